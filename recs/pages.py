"""The public statement of a retirement: HTML for a person, JSON for a script, PDF to file.

No token: whoever holds the statement's unguessable id may read it, as a buyer
forwards it to an auditor. Plain Django views (not the API's), since the page is
HTML first; an unknown id is a 404 in the format asked for.
"""

import io

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from core.units import mwh_text
from core.wire import dumps
from recs.models import Retirement
from recs.serializers import statement_data
from recs.statements import Statement, statement_get
from recs.tokens import token_metadata


@require_safe
def token_page(request, token: str):
    """ERC-1155 metadata of a token id (recs.tokens): what a wallet shows of RECs held
    on chain. Public, as the contract's ``uri`` points every wallet here."""
    metadata = token_metadata(text=token)
    if metadata is None:
        return JsonResponse(
            {"code": 404, "error": "not_found", "message": "No RECs have this token id."},
            status=404,
        )
    return JsonResponse(metadata)


@require_safe
def statement_page(request, statement_id: str, suffix: str = ""):
    wants_json = suffix == ".json" or (
        not suffix and "application/json" in request.headers.get("Accept", "")
    )
    try:
        statement = statement_get(statement_id=statement_id)
    except Retirement.DoesNotExist:
        if wants_json or suffix == ".pdf":
            return JsonResponse(
                {"code": 404, "error": "not_found", "message": "No such statement."}, status=404
            )
        return render(request, "recs/statement_missing.html", status=404)
    url = request.build_absolute_uri(reverse("statement", kwargs={"statement_id": statement_id}))
    if wants_json:
        body = dumps(statement_data(statement, url))
        return HttpResponse(body, content_type="application/json")
    if suffix == ".pdf":
        response = HttpResponse(statement_pdf(statement, url), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="statement-{statement_id}.pdf"'
        return response
    return render(
        request,
        "recs/statement.html",
        {
            "s": statement,
            "r": statement.retirement,
            "url": url,
            "chart": profile_svg(statement),
            "proof": statement.proof or {},
            "anchoring": _anchoring(statement.proof),
        },
    )


def _chart_points(statement: Statement, width: float, height: float) -> list[tuple[float, float]]:
    """The hourly profile as (x, y) points of a step chart ``width`` x ``height``
    (y grows downwards), time on x from the first hour to the hour after the last."""
    if not statement.hourly:
        return []
    first, last = statement.hourly[0][0], statement.hourly[-1][0]
    span = max((last - first).total_seconds() + 3600, 3600)
    top = max(mwh for _, mwh in statement.hourly)
    points = []
    for hour, mwh in statement.hourly:
        x0 = (hour - first).total_seconds() / span * width
        x1 = x0 + 3600 / span * width
        y = height - mwh / top * height
        points += [(x0, height), (x0, y), (x1, y), (x1, height)]
    return points


def profile_svg(statement: Statement) -> str:
    """The hourly profile as an inline SVG step chart (numbers and dates only)."""
    if not statement.hourly:
        return ""
    width, height = 640.0, 160.0
    path = " ".join(f"{x:.2f},{y:.2f}" for x, y in _chart_points(statement, width, height))
    top = max(mwh for _, mwh in statement.hourly)
    first, last = statement.hourly[0][0], statement.hourly[-1][0]
    return mark_safe(
        f'<svg class="profile" viewBox="-60 -10 720 200" role="img" '
        f'aria-label="energy retired per production hour">'
        f'<polygon points="0,{height} {path} {width},{height}" />'
        f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" class="axis"/>'
        f'<line x1="0" y1="0" x2="0" y2="{height}" class="axis"/>'
        f'<text x="-6" y="8" text-anchor="end">{mwh_text(top)} MWh</text>'
        f'<text x="-6" y="{height}" text-anchor="end">0 MWh</text>'
        f'<text x="0" y="{height + 20}">{first:%Y-%m-%d %H:00} UTC</text>'
        f'<text x="{width}" y="{height + 20}" text-anchor="end">{last:%Y-%m-%d %H:00} UTC</text>'
        f"</svg>"
    )


def statement_pdf(statement: Statement, url: str) -> bytes:
    """The statement as a PDF (ReportLab): the claim, the bundles, each REC and the
    profile, with where to check it."""
    from reportlab.graphics.shapes import Drawing, Polygon
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    r = statement.retirement
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=f"Retirement statement {r.statement}",
                            author="cg", leftMargin=15 * mm, rightMargin=15 * mm)  # fmt: skip
    grid = TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
        ("FONTSIZE", (0, 0), (-1, -1), 7),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ])  # fmt: skip

    def text(value) -> Paragraph:
        return Paragraph(_escape(str(value)), small)

    story = [
        Paragraph("Renewable energy certificates retired", styles["Title"]),
        Paragraph(
            f"{r.quantity} MWh retired for <b>{_escape(r.beneficiary_shown)}</b>",
            styles["Heading2"],
        ),
        Table(
            [
                [text("Beneficiary"), text(r.beneficiary_shown)],
                [text("Purpose"), text(f"0x{r.purpose_hash}" if r.on_chain else r.purpose or "-")],
                [text("Country of consumption"), text(r.country)],
                [text("Period claimed"), text(f"{r.period_start} to {r.period_end}")],
                [text("Quantity"), text(f"{r.quantity} RECs ({r.quantity} MWh)")],
                [text("Retired by"), text(r.retired_by)],
                [text("Retired on"), text(f"{r.created:%Y-%m-%d %H:%M} UTC")],
                [text("Retirement hash"), text(f"0x{r.hash}" if r.hash else "not sealed yet")],
                [text("Anchoring"), text(_anchoring(statement.proof))],
                [text("Statement"), text(url)],
            ],
            colWidths=[45 * mm, 130 * mm],
            style=grid,
        ),
        Spacer(1, 4 * mm),
        Paragraph("Hourly profile of the retired energy", styles["Heading3"]),
    ]
    width, height = 170 * mm, 40 * mm
    chart = Drawing(width, height)
    points = _chart_points(statement, width, height)
    if points:
        flat = [0, 0] + [v for x, y in points for v in (x, height - y)] + [width, 0]
        chart.add(Polygon(flat, fillColor=colors.HexColor("#2e7d32"), strokeColor=None))
    story += [chart, Spacer(1, 4 * mm), Paragraph("Bundles", styles["Heading3"])]
    rows = [[text(h) for h in ("Serials", "Qty", "Source", "Technology", "Country",
                                "Capacity (W)", "Commissioned", "Production")]]  # fmt: skip
    for b in statement.ranges:
        src = b.source
        rows.append([text(v) for v in (
            f"{b.source_id}-{b.first} .. {b.source_id}-{b.last}", b.quantity, src.name,
            src.technology, src.country or "-", src.capacity_wh, src.commissioned or "-",
            f"{b.production_start:%Y-%m-%d %H:00} .. {b.production_end:%Y-%m-%d %H:00} UTC",
        )])  # fmt: skip
    story += [Table(rows, repeatRows=1, style=grid), Spacer(1, 4 * mm)]
    story.append(Paragraph("Certificates", styles["Heading3"]))
    rows = [[text(h) for h in ("Serial", "Hash", "State", "Transaction", "Block")]]
    for rec in statement.recs:
        proof = rec.proof or {}
        rows.append([text(v) for v in (
            rec.serial_number, f"0x{rec.hash}" if rec.hash else "-", rec.state,
            proof.get("transaction_hash") or "-", proof.get("chain_block_number") or "-",
        )])  # fmt: skip
    story.append(Table(rows, repeatRows=1, colWidths=[20 * mm, 62 * mm, 18 * mm, 58 * mm,
                                                      17 * mm], style=grid))  # fmt: skip
    doc.build(story)
    return out.getvalue()


def _anchoring(proof: dict | None) -> str:
    if proof is None:
        return "waiting to be sealed into a ledger block"
    if "chain_block_number" in proof:
        return (
            f"ledger block {proof['ledger_height']}, transaction {proof['transaction_hash']}, "
            f"chain block {proof['chain_block_number']}"
        )
    return f"ledger block {proof['ledger_height']}, {proof['status']}"


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
