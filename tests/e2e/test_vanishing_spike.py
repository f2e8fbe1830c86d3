"""The vanishing-spike study of the event-driven LIF (experiments), end to end."""


def test_vanishing_spike_follows_a_square_root_branch_and_the_loss_jumps():
    """Sweeping one input weight through the critical w_c: EventProp's dt*/dw grows as (w - w_c)^(-1/2)
    (fitted exponent within 0.03 of -0.5), is exactly 0 where the neuron is silent, and the loss jumps."""
    from snnsad.experiments._vanishing_spike import vanishing_spike_sweep

    sweep = vanishing_spike_sweep(81)
    assert abs(sweep["gradient_exponent"] + 0.5) < 0.03
    assert sweep["zero_below"]
    assert sweep["jump"] > 10.0
