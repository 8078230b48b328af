"""The quarterly report: periods and figures, tables, HTML, PDF and the files made from them."""
