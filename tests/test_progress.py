"""The progress line: drawn on terminals, silent elsewhere."""

from __future__ import annotations

import io

from revops_ingest._progress import Progress


class FakeTty(io.StringIO):
    def isatty(self):
        return True


class TestProgress:
    def test_silent_when_not_a_terminal(self):
        """Nothing is written to a stream that is not a terminal."""
        stream = io.StringIO()
        bar = Progress("X", stream=stream)

        bar.page(10)
        bar.close("done")

        assert "" == stream.getvalue()
        assert (10, 1) == (bar.records, bar.pages)

    def test_draws_records_pages_and_rate_on_a_terminal(self):
        """On a terminal the line shows records, pages and a rate."""
        ticks = iter([0.0, 1.0, 2.0])
        stream = FakeTty()
        bar = Progress(
            "Salesforce Opportunity", stream=stream, clock=lambda: next(ticks)
        )

        bar.page(2000)
        bar.close("done")

        text = stream.getvalue()
        assert "Salesforce Opportunity: 2,000 records, 1 pages" in text
        assert "1,000 records/s" in text
        assert text.endswith(" - done\n")

    def test_redraws_at_most_every_interval(self):
        """Pages arriving faster than the interval do not redraw each time."""
        ticks = iter([0.0] + [0.01 * i for i in range(1, 50)])
        stream = FakeTty()
        bar = Progress("X", stream=stream, clock=lambda: next(ticks), interval=0.2)

        for _ in range(40):
            bar.page(1)

        assert 3 >= stream.getvalue().count("\r")
