"""Run a real ingestion in this process and die hard part-way (`python -m` from a test).

between: exit after the first batch has committed and been published.
mid-batch: exit right after the bars' INSERT ran, inside the batch's open transaction.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from sqlalchemy import event

from app import db
from app.ingest.events import DataStored
from app.ingest.jobs import run_daily_prices
from tests.ingest.helpers import make_ingestor


def main(url: str, mode: str) -> None:
    engine = db.make_engine(url)
    ingestor = make_ingestor(engine, ingest_batch_rows=10)  # one symbol of 10 days per batch
    if mode == "between":

        def die(_: DataStored) -> None:
            os._exit(17)

        ingestor.publisher.subscribe(die)
    else:

        @event.listens_for(engine, "after_cursor_execute")
        def die_in_transaction(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO DAILY_BAR"):
                os._exit(17)

    asyncio.run(run_daily_prices(ingestor))
    sys.exit(0)  # not reached: the hooks above end the process


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
