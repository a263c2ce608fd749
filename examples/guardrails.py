"""Guardrails: checks that stop a run.

- An input guardrail checks the first agent's input; it runs beside the first
  model call, and when it trips, that call is cancelled and the run raises.
- An output guardrail checks the final output before it is returned.
A guardrail returns True (or a ``GuardrailOutput`` with ``tripwire_triggered``)
to trip. A guardrail may also be an agent used as a classifier:
``InputGuardrail.from_agent(classifier, trip_if=...)``.

    uv run python examples/guardrails.py
"""

import re
from typing import Any

from ascent import (
    Agent,
    GuardrailOutput,
    InputGuardrailTripwireTriggered,
    Item,
    OutputGuardrailTripwireTriggered,
    RunContext,
    Runner,
    input_guardrail,
    output_guardrail,
)


@input_guardrail
def on_topic(context: RunContext[Any], agent: Agent[Any], items: list[Item]) -> GuardrailOutput:
    """Trip on requests that have nothing to do with the shop."""
    off_topic = any(word in items[-1].text.lower() for word in ("homework", "poem"))
    return GuardrailOutput(tripwire_triggered=off_topic, output_info={"off_topic": off_topic})


@output_guardrail
def no_card_numbers(context: RunContext[Any], agent: Agent[Any], output: Any) -> bool:
    """Trip when the answer would show something that looks like a card number."""
    return re.search(r"\b(?:\d[ -]?){13,16}\b", str(output)) is not None


agent = Agent(
    name="Support",
    instructions="Help customers of an online shop.",
    input_guardrails=[on_topic],
    output_guardrails=[no_card_numbers],
)


def main() -> None:
    for message in (
        "Where is my order A-1042?",
        "Write a poem about the sea.",
        "Is 4111 1111 1111 1111 the card on file?",
    ):
        try:
            result = Runner.run_sync(agent, message)
            print(f"answered: {result.final_output}")
        except InputGuardrailTripwireTriggered as error:
            print(f"refused by {error.result.name}: {error.result.output_info}")
        except OutputGuardrailTripwireTriggered as error:
            print(f"answer withheld by {error.result.name}")


if __name__ == "__main__":
    main()
