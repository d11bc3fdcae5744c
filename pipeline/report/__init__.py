"""The data report: one self-contained HTML file showing the data's health (issue 19).

`ReportData` (plain rows: the ledger, refused runs, counts, profiles, trips and revenue, trips per
borough) -> `charts` (Vega-Lite specs built with altair) -> `page` (inline SVG rendered by
vl-convert, HTML tables, one file). A layer beside `ops`: it imports the contract (and may import
storage and warehouse to read its rows); nothing but the command line and dev tools import it.
"""
