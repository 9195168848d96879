"""The drift report as one self-contained HTML page: verdict, per-feature table, distribution plots."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas as pd

from ml_assets.monitoring.drift import DriftReport


def _plot(reference: np.ndarray, current: np.ndarray, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.2, 2.6), dpi=90)
    both = np.concatenate([reference, current])
    low, high = np.nanquantile(both, [0.005, 0.995]) if len(both) else (0, 1)
    bins = np.linspace(low, high if high > low else low + 1, 40)
    axis.hist(reference, bins=bins, density=True, alpha=0.55, label="reference (training)")
    axis.hist(current, bins=bins, density=True, alpha=0.55, label="production")
    axis.set_title(title, fontsize=9)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def render(
    report: DriftReport,
    *,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    reference_scores: np.ndarray | None,
    current_scores: np.ndarray | None,
    performance: dict[str, float] | None,
    title: str,
    max_plots: int = 8,
) -> str:
    colour = {"none": "#1b7f3b", "moderate": "#b8860b", "severe": "#b22222"}[report.severity]
    rows = "".join(
        f"<tr class='{'drift' if f.drifted else ''}'><td>{html.escape(f.feature)}</td><td>{f.method}</td>"
        f"<td>{f.statistic:.4g}</td><td>{f.threshold:g}</td><td>{f.psi:.3f}</td>"
        f"<td>{f.reference_mean:.4g}</td><td>{f.current_mean:.4g}</td><td>{'yes' if f.drifted else 'no'}</td></tr>"
        for f in sorted(report.features, key=lambda f: (not f.drifted, f.feature))
    )
    ranked = sorted(report.features, key=lambda f: (not f.drifted, -f.psi))[:max_plots]
    plots = [
        (f.feature, _plot(reference[f.feature].to_numpy(float), current[f.feature].to_numpy(float), f.feature))
        for f in ranked
    ]
    if reference_scores is not None and current_scores is not None and len(current_scores):
        plots.insert(0, ("score", _plot(reference_scores, current_scores, "model score")))
    images = "".join(f"<img alt='{html.escape(n)}' src='data:image/png;base64,{p}'>" for n, p in plots)
    score = (
        f"score PSI {report.score_psi:.3f}, KS p {report.score_ks_p_value:.3g}"
        if report.score_psi is not None
        else "no scores"
    )
    perf = ", ".join(f"{k} {v:.4f}" for k, v in performance.items()) if performance else "no labelled recent records"
    reasons = "; ".join(html.escape(r) for r in report.reasons) or "no drift"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} td:first-child{{text-align:left}}
tr.drift{{background:#fde8e8}} .verdict{{color:{colour};font-weight:bold}} img{{margin:4px}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="verdict">{report.severity.upper()}: {reasons}</p>
<p>{report.current_rows:,} production records against {report.reference_rows:,} training records;
{report.share_drifted:.0%} of {len(report.features)} features drifted (dataset drift at
{report.thresholds.dataset_share:.0%}); {score}. Recent performance: {perf}.</p>
<table><tr><th>feature</th><th>method</th><th>statistic</th><th>threshold</th><th>PSI</th>
<th>reference mean</th><th>production mean</th><th>drifted</th></tr>{rows}</table>
<h2>Distributions</h2>{images}</body></html>"""
