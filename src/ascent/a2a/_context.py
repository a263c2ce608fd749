"""The request context of an A2A message: a follow-up stays in its task's context.

A message may name the task it continues (``taskId``) without naming the
context (``contextId``). The SDK's own builder then makes up a new context for
it, which no longer matches the task's: the follow-up's events are refused and
the task is failed for good. This builder takes the context from the task.
"""

from __future__ import annotations

from a2a.server.agent_execution import RequestContext, SimpleRequestContextBuilder
from a2a.server.context import ServerCallContext
from a2a.server.tasks import TaskStore
from a2a.types import SendMessageRequest, Task

__all__ = ["TaskContextBuilder"]


class TaskContextBuilder(SimpleRequestContextBuilder):
    """The SDK's builder, with a missing context taken from the task the message names."""

    def __init__(self, task_store: TaskStore) -> None:
        super().__init__(task_store=task_store)
        self._tasks = task_store

    async def build(
        self,
        context: ServerCallContext,
        params: SendMessageRequest | None = None,
        task_id: str | None = None,
        context_id: str | None = None,
        task: Task | None = None,
    ) -> RequestContext:
        if task_id and not context_id:
            continued = await self._tasks.get(task_id, context)
            if continued is not None:
                context_id = continued.context_id or None
        return await super().build(context, params, task_id, context_id, task)
