"""``make bench``: every benchmark, printed as Markdown tables."""

from __future__ import annotations

import argparse

from bench import (
    delivery,
    faults,
    files,
    flood,
    fuzz,
    matcher,
    moves,
    pdf,
    report,
    requests,
    scheduler,
    telegram,
    wechat,
    wechat_parse,
    wecom,
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    args = parser.parse_args()
    matcher.print_table(matcher.run(quick=args.quick))
    matcher.print_pruning(*matcher.run_pruning(quick=args.quick))
    requests.print_table(requests.run(quick=args.quick))
    moves.print_table(moves.run(quick=args.quick))
    scheduler.print_table(scheduler.run(quick=args.quick))
    report.print_table(report.run(quick=args.quick))
    pdf.print_table(pdf.run(quick=args.quick))
    telegram.print_table(telegram.run(quick=args.quick))
    wechat.print_table(wechat.run(quick=args.quick))
    wecom.print_table(wecom.run(quick=args.quick))
    delivery.print_table(delivery.run(quick=args.quick), quick=args.quick)
    files.print_table(files.run(quick=args.quick))
    wechat_parse.print_table(wechat_parse.run(quick=args.quick))
    faults.print_table(faults.run(quick=args.quick))
    flood.print_table(flood.run(quick=args.quick), quick=args.quick)
    fuzz.print_table(fuzz.run(quick=args.quick))


if __name__ == "__main__":
    main()
