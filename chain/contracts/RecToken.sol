// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Supply} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Supply.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title cg RECs as tokens.
/// @notice One token id per bundle origin: a source and a vintage month
/// (id = source id x 1,000,000 + year x 100 + month); an amount of 1 is one REC
/// (1 MWh). Only the engine mints, moving RECs out of a holder's account in the
/// ledger to a wallet. A holder retires (claims) RECs by burning them with the
/// claim: the Retired event carries the hashes of the beneficiary and purpose and
/// the period claimed, which the engine turns into a public statement. A holder
/// redeems RECs back into an account of the ledger by sending the tokens to this
/// contract with the account's code as the transfer's data: the contract burns
/// them, and the Redeemed event tells the engine which account gets them.
contract RecToken is ERC1155Supply, IERC1155Receiver {
    /// The account allowed to mint: whoever deployed the contract.
    address public immutable engine;

    event Retired(
        address indexed holder,
        uint256 indexed id,
        uint256 amount,
        bytes32 beneficiaryHash,
        bytes32 purposeHash,
        bytes2 country,
        uint32 periodStart,
        uint32 periodEnd
    );

    event Redeemed(address indexed holder, uint256 indexed id, uint256 amount, string account);

    error NotEngine();
    error NotRedeemable();
    error EmptyClaim();
    error PeriodOutOfOrder(uint32 periodStart, uint32 periodEnd);

    /// `uri_` holds `{id}`, which a wallet replaces with the id in hex (ERC-1155 metadata).
    constructor(string memory uri_) ERC1155(uri_) {
        engine = msg.sender;
    }

    /// Mint `amounts` of `ids` to `to`: RECs that left an account's holdings.
    function mint(address to, uint256[] calldata ids, uint256[] calldata amounts) external {
        if (msg.sender != engine) revert NotEngine();
        _mintBatch(to, ids, amounts, "");
    }

    /// Retire `amount` RECs of `id` held by the caller, for a beneficiary's consumption
    /// in `country` over days `periodStart`..`periodEnd` (days since 1970-01-01).
    function retire(
        uint256 id,
        uint256 amount,
        bytes32 beneficiaryHash,
        bytes32 purposeHash,
        bytes2 country,
        uint32 periodStart,
        uint32 periodEnd
    ) external {
        if (amount == 0 || beneficiaryHash == bytes32(0)) revert EmptyClaim();
        if (periodEnd < periodStart) revert PeriodOutOfOrder(periodStart, periodEnd);
        _burn(msg.sender, id, amount);
        emit Retired(
            msg.sender, id, amount, beneficiaryHash, purposeHash, country, periodStart, periodEnd
        );
    }

    /// Tokens sent to this contract are redeemed: burnt, for the account named in `data`.
    /// Only its own tokens, and only with an account named (else the transfer reverts).
    function onERC1155Received(address, address from, uint256 id, uint256 value, bytes calldata data)
        external
        returns (bytes4)
    {
        _redeem(from, id, value, data);
        return this.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(
        address,
        address from,
        uint256[] calldata ids,
        uint256[] calldata values,
        bytes calldata data
    ) external returns (bytes4) {
        for (uint256 i = 0; i < ids.length; ++i) {
            _redeem(from, ids[i], values[i], data);
        }
        return this.onERC1155BatchReceived.selector;
    }

    function _redeem(address from, uint256 id, uint256 value, bytes calldata data) private {
        if (msg.sender != address(this) || data.length == 0) revert NotRedeemable();
        _burn(address(this), id, value);
        emit Redeemed(from, id, value, string(data));
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC1155, IERC165) returns (bool) {
        return interfaceId == type(IERC1155Receiver).interfaceId || super.supportsInterface(interfaceId);
    }
}
