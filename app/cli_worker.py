"""`crm worker`: run the deployment's task queue (webhook deliveries, automations, the sweep)."""

from __future__ import annotations

import click

from app.cli_errors import friendly
from app.context import Context


@click.command()
@click.option("--workers", "-w", default=2, show_default=True, help="worker threads")
@click.option("--burst", is_flag=True, help="run what is queued now, then exit (cron, scripts)")
@click.pass_obj
@friendly
def worker(ctx: Context, workers: int, burst: bool) -> None:
    """Run the task queue's worker (Ctrl-C stops it after the running tasks)."""
    from app.tasks.worker import run_burst, run_worker

    queue = ctx.queue
    if queue.immediate:
        raise click.ClickException("task_queue is `immediate`: tasks run where they are "
                                   "queued, there is nothing for a worker to do")
    if burst:
        click.echo(f"Ran {run_burst(queue)} task(s).")
        return
    click.echo(f"Worker for {ctx.settings.name}: queue {ctx.settings.task_queue}, "
               f"{workers} thread(s). Ctrl-C to stop.")
    run_worker(queue, workers)
