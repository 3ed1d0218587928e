// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title The cg ledger's anchor.
/// @notice Each ledger block's Merkle root is anchored here in one transaction,
/// heights in strict sequence, by the engine's account only. An attribution is
/// verified off-chain against the Anchored event of its height, or with
/// `verify` (OpenZeppelin's sorted-pair MerkleProof) in an eth_call.
contract Anchor {
    /// The account allowed to anchor: whoever deployed the contract.
    address public immutable engine;

    /// The height of the last anchored ledger block (0 before the first).
    uint256 public height;

    event Anchored(uint256 indexed height, bytes32 root, bytes32 blockHash, uint256 count);

    error NotEngine();
    error OutOfSequence(uint256 expected, uint256 given);

    constructor() {
        engine = msg.sender;
    }

    /// Anchor the ledger block at `height_`; refuses anything but the next height,
    /// so a retried transaction can never anchor the same block twice.
    function anchor(uint256 height_, bytes32 root, bytes32 blockHash, uint256 count) external {
        if (msg.sender != engine) revert NotEngine();
        if (height_ != height + 1) revert OutOfSequence(height + 1, height_);
        height = height_;
        emit Anchored(height_, root, blockHash, count);
    }

    /// Whether `leaf` is in the tree of `root` by `proof`.
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf)
        external
        pure
        returns (bool)
    {
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
