"""Buckets shared between workers: forked processes where the platform forks, threads elsewhere.

Each worker runs torch single-threaded and takes the next bucket (largest first) as soon as it is free:
the matrices are small, and independent streams of small products use the cores better than splitting
every product. Progress is counted in network-epochs.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait

import torch
from threadpoolctl import threadpool_limits

from .loop import train_bucket


def can_fork() -> bool:
    """Whether this platform starts processes by forking (not Windows, not macOS's default)."""
    return "fork" in multiprocessing.get_all_start_methods()


def run_buckets(runs, order, workers: int, settings: dict, bar) -> None:
    """Train every run (taken in ``order``) with ``workers`` workers, updating the progress ``bar``."""
    threads_before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with threadpool_limits(1):  # numpy's BLAS too
            if workers > 1 and can_fork():
                _in_processes(runs, order, workers, settings, bar)
            else:
                _in_threads(runs, order, workers, settings, bar)
    finally:
        torch.set_num_threads(threads_before)


def _in_threads(runs, order, workers, settings, bar):
    """Train the buckets in ``workers`` threads of this process."""
    lock = threading.Lock()

    def tick(k):
        """Add ``k`` network-epochs to the bar."""
        with lock:
            bar.update(k)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: train_bucket(runs[i], **settings, tick=tick), order))


_worker: dict = {}  # in a forked worker only: what it inherited (the runs, the settings, the progress counter)


def _adopt(runs, settings, counter):
    """Initialise a forked worker with the state it inherited from its parent (nothing is pickled)."""
    torch.set_num_threads(1)
    threadpool_limits(1)
    _worker.update(runs=runs, settings=settings, counter=counter)


def _tick(k):
    """In a forked worker: add ``k`` network-epochs to the counter the parent's bar follows."""
    with _worker["counter"].get_lock():
        _worker["counter"].value += k


def _train_in_worker(i):
    """In a forked worker: train bucket ``i`` and return what the parent keeps of it."""
    run = _worker["runs"][i]
    train_bucket(run, **_worker["settings"], tick=_tick)
    return run.params, run.curve, run.stopped


def _in_processes(runs, order, workers, settings, bar):
    """Train the buckets in ``workers`` forked processes (Python's GIL then serialises nothing)."""
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_adopt, initargs=(runs, settings, counter)) as pool:
        futures = {i: pool.submit(_train_in_worker, i) for i in order}
        while wait(futures.values(), timeout=0.5).not_done:
            bar.update(counter.value - bar.n)
        for i, f in futures.items():
            runs[i].params, runs[i].curve, runs[i].stopped = f.result()


def _call_in_worker(i):
    """In a forked worker: ``fn(items[i], tick)`` of what it inherited."""
    return _worker["fn"](_worker["items"][i], _tick)


def _adopt_call(fn, items, counter):
    """Initialise a forked worker for :func:`map_parts`."""
    torch.set_num_threads(1)
    threadpool_limits(1)
    _worker.update(fn=fn, items=items, counter=counter)


def map_parts(fn, items, workers: int, bar) -> list:
    """``[fn(item, tick) for item in items]`` in up to ``workers`` forked processes (threads where the platform
    does not fork), ``tick(k)`` adding ``k`` to the progress ``bar``."""
    if workers <= 1 or len(items) <= 1 or not can_fork():
        return [fn(item, bar.update) for item in items]
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    with ProcessPoolExecutor(min(workers, len(items)), mp_context=ctx, initializer=_adopt_call,
                             initargs=(fn, items, counter)) as pool:
        futures = [pool.submit(_call_in_worker, i) for i in range(len(items))]
        while wait(futures, timeout=0.5).not_done:
            bar.update(counter.value - bar.n)
        bar.update(counter.value - bar.n)
        return [f.result() for f in futures]
