"""Speculative decoding's parts without a model: prompt lookup's guesses and the gate that
drafts only what pays."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from model_runtime.engine.speculative import MAX_DRAFT, DraftGate, DraftModel, PromptLookup


def test_prompt_lookup_proposes_what_followed_the_last_tokens_before() -> None:
    lookup = PromptLookup()
    lookup.reset([5, 6, 7, 8, 9, 10, 11, 1, 2, 6, 7])
    assert lookup.propose(3) == [8, 9, 10]
    assert lookup.propose(8) == [8, 9, 10, 11, 1, 2, 6, 7]


def test_prompt_lookup_prefers_the_longest_and_latest_match() -> None:
    lookup = PromptLookup()
    # "2 7" is followed by 100 once and by 200 later; "1 2 7" only by 300
    lookup.reset([1, 2, 7, 300, 2, 7, 100, 2, 7, 200, 9, 1, 2, 7])
    assert lookup.propose(1) == [300]
    lookup.reset([2, 7, 100, 4, 2, 7, 200, 4, 9, 2, 7])
    assert lookup.propose(2) == [200, 4]


def test_prompt_lookup_has_no_guess_for_new_text() -> None:
    lookup = PromptLookup()
    lookup.reset(list(range(50)))
    assert lookup.propose(4) == []
    lookup.append(3)
    assert lookup.propose(4) == []  # one token is no match: the shortest n-gram is two


def test_prompt_lookup_grows_with_the_text_and_starts_over_for_another() -> None:
    lookup = PromptLookup()
    text = [1, 2, 3, 4, 5, 6]
    lookup.reset(text)
    for token in (1, 2):
        lookup.append(token)
    assert lookup.propose(3) == [3, 4, 5]
    lookup.reset([*text, 1, 2, 3])  # the same text, grown: indexed incrementally
    assert lookup.propose(2) == [4, 5]
    lookup.reset([9, 8, 9, 8])  # another text: nothing of the old one is proposed
    assert lookup.propose(3) == [9, 8]
    lookup.reset([7, 7])
    assert lookup.propose(2) == []


def timed_gate(alpha: float = 0.5) -> DraftGate:
    """A gate that has timed a one-token step (the price it weighs a batch against)."""
    gate = DraftGate(alpha=alpha)
    gate.timed(1, 0.010)
    return gate


def test_the_gate_drafts_when_guesses_are_taken_and_stops_when_not() -> None:
    gate = timed_gate()
    assert gate.length() == 0  # no evidence yet: a guess is a coin toss, which doesn't pay
    for _ in range(30):
        gate.judged(8, 8)
    assert gate.length() == MAX_DRAFT
    for _ in range(30):
        gate.judged(8, 0)
    assert gate.length() == 0


def test_the_gate_drafts_less_when_batches_cost_more() -> None:
    cheap, dear = timed_gate(alpha=0.05), timed_gate(alpha=0.9)
    for gate in (cheap, dear):
        for _ in range(40):
            gate.judged(4, 3)  # three guesses of four taken: p = 0.75
    assert cheap.length() > dear.length() >= 0
    assert cheap.length() >= 4


def test_the_gate_learns_what_a_batch_costs() -> None:
    gate = DraftGate(alpha=0.5)
    for _ in range(200):
        gate.timed(1, 0.010)
        gate.timed(5, 0.014)  # 4 extra tokens cost 40 % more: alpha 0.1
    assert abs(gate.alpha - 0.1) < 0.02
    assert gate.ratio == 0.0


def test_a_costly_drafter_that_does_not_pay_still_probes_now_and_then() -> None:
    gate = DraftGate(alpha=0.5)
    for _ in range(200):
        gate.timed(1, 0.010)
        gate.timed(2, 0.015, draft_seconds=0.010)  # the drafter is as slow as the model
    assert gate.ratio > 0.9
    lengths = [gate.length(free=False) for _ in range(100)]
    assert 1 <= sum(lengths) <= 5  # one token every 32 steps
    assert all(gate.length(free=True) == 0 for _ in range(50))


def test_a_gate_drafts_nothing_before_it_timed_one_token_and_then_learns_the_drafters_cost() -> (
    None
):
    """A draft model as slow as the model, whose guesses are all taken: the gate first decodes a
    token alone, then drafts (it looks like it pays), measures the drafter and stops."""
    gate = DraftGate(alpha=0.5)
    gate.reset_acceptance(0.7)  # a draft model's prior: drafting would look worth it at once
    assert gate.length(free=False) == 0  # but nothing is known of what a step costs yet
    gate.timed(1, 0.010)
    assert gate.length(free=False) >= 1
    for _ in range(20):
        k = gate.length(free=False)
        if k == 0:
            gate.timed(1, 0.010)
            continue
        gate.judged(k, k)
        gate.timed(k + 1, 0.010 + 0.005 * k, draft_seconds=0.010 * k)
    assert gate.ratio > 0.9
    assert sum(gate.length(free=False) for _ in range(64)) <= 2  # a probe every 32 steps


def test_acceptance_starts_anew_for_each_answer() -> None:
    gate = DraftGate()
    rng = random.Random(0)
    for _ in range(50):
        gate.judged(6, rng.choice((5, 6)))
    assert gate.p > 0.9
    gate.reset_acceptance()
    assert gate.p == 0.5


@pytest.mark.slow
def test_a_draft_model_reads_the_prompt_with_the_model_not_at_its_first_guess(
    smollm2: Path,
) -> None:
    """Its first guess costs a guess: the gate times guessing, not the reading of a long
    prompt, which made a draft model look twenty times dearer than it is."""
    from llama_cpp import Llama

    llm = Llama(str(smollm2), n_ctx=512, n_threads=1, verbose=False)
    try:
        drafter = DraftModel(llm, "SmolLM2", llm.n_vocab())
        prompt = llm.tokenize(b"Count from one to twenty: one, two, three, four, five,")
        drafter.reset(prompt)
        assert llm.n_tokens == len(prompt) - 1  # read now, all but the last (for its logits)
        guess = drafter.propose(3)
        assert len(guess) == 3 and llm.n_tokens == len(prompt) + 2
        drafter.reset([*prompt, *guess[:1]])  # the text goes on: only what is new is read
        assert llm.n_tokens == len(prompt)
    finally:
        llm.close()
