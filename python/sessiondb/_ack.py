"""Acknowledgements as the caller needs them: awaited inside an event loop, waited outside."""

import asyncio


def _resolve(future, error):
    # Runs on the loop (call_soon_threadsafe); the caller may have given up meanwhile.
    if future.cancelled():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _future(ack, loop):
    future = loop.create_future()
    ack.notify(loop.call_soon_threadsafe, _resolve, future)
    return future


def settle(ack):
    """Inside a running event loop: a future that completes once the write is acknowledged
    (the loop never blocks). Outside one: waits for it (GIL released) and returns None."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        ack.wait()
        return None
    return _future(ack, loop)


def settle_all(acks):
    """``settle`` for several writes: one awaitable for all of them, or None once all are
    acknowledged."""
    acks = list(acks)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        for ack in acks:
            ack.wait()
        return None
    if len(acks) == 1:
        return _future(acks[0], loop)
    return asyncio.gather(*(_future(ack, loop) for ack in acks))


async def acknowledged(*acks):
    """Awaits each write (``None``s skipped): for adapters whose methods are coroutines."""
    for ack in acks:
        if ack is not None:
            pending = settle(ack)
            if pending is not None:
                await pending
