"""Faust 0.15.3's end of table recovery, with the stream partitions sought before they resume.

When a worker is given partitions it restores their tables, then seeks its input partitions
to their committed offsets and lets them flow. Faust resumes the input partitions *before*
the seek, and the three steps after it lose inputs:

1. in the time the seek takes, the fetcher reads a batch from the resumed partitions and
   hands the first records of it to the agents;
2. the seek sets Faust's "last offset read" back to the committed offset, while the fetch
   loop goes on with the rest of the batch it already holds: it takes the jump from the
   committed offset to the next record of the batch for a gap in the partition and counts
   every offset in it as processed;
3. resuming the flow then empties the agents' queues, where some of the records of step 1
   still waited.

Those records are neither processed nor read again, and their offsets are committed. In the
join/leave test this showed as matching rounds that waited for good after a rebalance: the
block answers they waited for were among the lost records.

Here the seek is made while the input partitions are still paused, and they resume only
once the flow has resumed: the first record read is the one at the committed offset, and
nothing waits in a queue when it is emptied. Only the order differs from Faust's own
``Recovery.on_recovery_completed``. (Faust's ``_resume_streams``, the path for an app
without tables, has the same order; this app always has tables.)

A table partition a worker keeps through a rebalance is not restored again. Faust reads its
changelog again from where the last restore ended, over the table as the worker has kept it
since, up to the end the broker gives. Under exactly-once that end is the last stable
offset, which lags behind the commit the rebalance just made (its transaction markers are
written after the commit returns), so the replay stopped short of the worker's last writes
and put older values back: matching rounds already done were done again, and 211 enriched
records came out twice in a join/leave run. The worker wrote every value of the partition
itself, so its table already holds the changelog's end. (A partition new to the worker has
no such lag: the producer of its transaction starts, which waits until the previous
owner's transaction is complete, before the restore begins. A global table is restored as
Faust does: every worker holds its partition, and only one writes it.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, cast

from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP
from faust.types.transports import ConsumerT
from mode.utils.objects import cached_property


class SeekThenResumeRecovery(Recovery):
    @cached_property
    def _up_to_date(self) -> set[TP]:
        """Active changelog partitions restored, and written only by this worker since."""
        return set()

    def _own_partitions(self) -> set[TP]:
        """The active changelog partitions this worker alone writes: not a global table's."""
        return {tp for tp in self.active_tps if not self.tp_to_table[tp].is_global}

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        self._up_to_date &= self._own_partitions()  # kept; not those that left, nor new ones

    async def _build_offsets(
        self, consumer: ConsumerT, tps: set[TP], destination: Counter[TP], title: str
    ) -> None:
        """Where each partition's restore starts; a kept active partition starts at the end
        just measured (``active_highwaters``), so that it is not read at all."""
        await super()._build_offsets(consumer, tps, destination, title)
        if destination is self.active_offsets:
            for tp in tps & self._up_to_date:
                destination[tp] = self.active_highwaters[tp]

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        app = cast(Any, self.app)
        consumer = app.consumer
        self.log.info("Restore complete!")
        await app.on_rebalance_complete.send()
        self._set_recovery_ended()
        table_callbacks = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if table_callbacks:
            await asyncio.wait(table_callbacks)
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning(
                "Recovery rebalancing again: generation %r, recovery for %r",
                app.consumer_generation_id,
                generation_id,
            )
            return
        self._up_to_date |= self._own_partitions()  # restored for this generation
        if assignment:
            self.log.info("Seek stream partitions to committed offsets, before they resume.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        self.completed.set()
        app.flow_control.resume()  # empties the queues: nothing of the inputs is in them yet
        consumer.resume_flow()
        consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        await app._fetcher.maybe_start()
        self.tables.on_actives_ready()
        if not app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")


class SeekThenResumeTableManager(TableManager):
    """Faust's table manager, with :class:`SeekThenResumeRecovery` as its recovery."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekThenResumeRecovery(
                self.app, self, beacon=self.beacon, loop=self.loop
            )
        return self._recovery
