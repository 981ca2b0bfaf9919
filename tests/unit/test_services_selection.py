"""The selection clamped to what the cache holds (services.fit_to_options), without a page."""
import pytest

from scaling import services


def _opts(steps):
    return services.Options(datasets=("mnist",), dropouts=(0.0,), width_steps=tuple(steps), fractions=(1 / 64, 1 / 32, 1 / 16),
                         seeds=(0, 1), lr_mults=(1.0,))


@pytest.mark.parametrize("steps, asked, shown", [
    ((0, 1, 2, 3), (1, 2), (1, 2)),   # all cached: unchanged
    ((0, 1, 3), (2, 3), (3, 3)),      # the low end deleted: snapped up to the next cached step, not reset to the first
    ((0, 2, 3), (0, 1), (0, 0)),      # the high end deleted: snapped down
    ((0, 3), (1, 2), (0, 3)),         # nothing cached inside: the whole range
    ((0, 1), (-4, 9), (0, 1)),        # past both ends: clamped
])
def test_a_width_range_is_snapped_to_cached_steps(steps, asked, shown):
    sel, _ = services.fit_to_options(services.Selection(widths=asked), _opts(steps))
    assert sel.widths == shown and all(w in steps for w in sel.widths)


def test_the_compute_convention_survives_a_link_and_a_bad_one_is_named():
    sel = services.Selection(compute="6nd")
    back, notes = services.parse_params(sel.to_params(), services.Selection())
    assert back.compute == "6nd" and not notes
    assert "c" not in services.Selection().to_params()
    back, notes = services.parse_params({"c": "7nd"}, services.Selection())
    assert back.compute == "3fd" and len(notes) == 1 and "c" in notes[0]
