"""The planner: which runs to train next to narrow a target's interval most per FLOP (or per second).

    world.py   plausible outcomes of runs not trained yet: surfaces from the fit and its resamples, the seed noise
    moves.py   the batches weighed: widths and fractions beyond the grid, another seed along a fraction or a width
    target.py  what a plan narrows (a as the verdict answers it, alpha_C, alpha, beta, the loss at a budget)
    greedy.py  plan: simulate each batch, re-run the estimator, take the best narrowing per unit of cost
"""
from scaling.fit.planner.greedy import FORM_SHARE, N_SIM, PlanResult, Step, plan
from scaling.fit.planner.target import TARGETS, Target, parse_target
from scaling.fit.planner.world import SURFACES, World, world

__all__ = ["FORM_SHARE", "N_SIM", "PlanResult", "SURFACES", "Step", "TARGETS", "Target", "World", "parse_target", "plan",
           "world"]
