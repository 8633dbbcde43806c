"""Rasa's Redis lock store, with every change of a conversation's lock made atomically.

Several Rasa processes share one lock per conversation in Redis so that only one of them
works on a conversation at a time. Rasa's own ``RedisLockStore`` changes a lock by reading
it, changing it in Python and writing it back: two processes that take a ticket for the same
conversation at the same moment both read "no lock", both write a lock holding ticket 0, and
both go ahead, so one turn overwrites the other in the tracker store (measured here: with
eight messages sent to two processes at once, one to seven of them were lost). This store
makes each read-change-write a Redis transaction that is retried when another process
changed the lock in between (``WATCH``/``MULTI``/``EXEC``), and ends a turn (drop its ticket,
delete the lock if nobody waits) in one such transaction too.

Configured in ``deploy/endpoints.scaled.yml``::

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: ...   # and the other settings of Rasa's redis lock store
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")

# Retries of one change when other processes keep changing the same lock; each retry means
# another process made progress, so running out means something is badly wrong.
MAX_ATTEMPTS = 100


class AtomicRedisLockStore(RedisLockStore):  # type: ignore[misc]
    """:class:`RedisLockStore` whose ticket issue, expiry and release are atomic.

    Args:
        endpoint_config: The ``lock_store`` section of the endpoints file; its settings are
            those of Rasa's ``redis`` lock store (``url``, ``port``, ``db``, ``key_prefix``,
            ``password``, ...).
    """

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock | None, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        return self._change(conversation_id, issue)

    def update_lock(self, conversation_id: str) -> None:
        def expire(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, expire)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # One transaction: between "nobody is waiting" and the delete, another process
        # could take a ticket, which a separate delete would throw away.
        def finish_and_drop(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish_and_drop)

    def _change(
        self,
        conversation_id: str,
        change: Callable[[TicketLock | None], tuple[TicketLock | None, T]],
    ) -> T:
        """Apply ``change`` to the stored lock atomically; a ``None`` lock is deleted.

        Raises:
            LockError: Redis failed, or the lock kept changing under us.
        """
        key = self.key_prefix + conversation_id
        try:
            with self.red.pipeline() as pipe:
                for _ in range(MAX_ATTEMPTS):
                    try:
                        pipe.watch(key)
                        stored = pipe.get(key)
                        lock = TicketLock.from_dict(json.loads(stored)) if stored else None
                        changed, result = change(lock)
                        pipe.multi()
                        if changed is None:
                            pipe.delete(key)
                        else:
                            pipe.set(key, changed.dumps())
                        pipe.execute()
                        return result
                    except redis.WatchError:
                        continue
        except redis.RedisError as error:
            raise LockError(f"lock store failed: {type(error).__name__}") from error
        raise LockError(f"the lock changed {MAX_ATTEMPTS} times while being updated")
