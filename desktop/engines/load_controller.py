"""Every load goes through the planner: plan, show, refuse what does not fit, load what does."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, Signal

from desktop.engines.bridge import EngineBridge
from desktop.engines.hardware_probe import HardwareProbe
from desktop.engines.load_panel import LoadPanel, choice_is_auto
from model_runtime.chat.generation import LoadRequest
from model_runtime.errors import InsufficientMemory
from model_runtime.planning import planner
from model_runtime.planning.guarded_load import PlannedLoad, check_plan
from model_runtime.planning.pinned import pin_overrides, pinned_overrides, unpin_overrides
from model_runtime.planning.plan import LoadPlan, PlanOverrides

PANEL_FIELDS = ("n_ctx", "n_gpu_layers", "cpu_expert_layers", "type_k", "type_v", "draft")


def request_overrides(request: LoadRequest) -> PlanOverrides:
    """What a caller's request fixes (context, threads, KV types, batch); the planner does the rest.

    A request's n_gpu_layers and flash_attn are not taken: their defaults can't be told from a
    choice.
    """
    return PlanOverrides(
        n_ctx=request.n_ctx or None,
        n_threads=request.n_threads,
        type_k=request.type_k,
        type_v=request.type_v,
        n_batch=request.n_batch,
        use_mmap=request.use_mmap,
        use_mlock=request.use_mlock,
    )


def _merge(base: PlanOverrides, choice: PlanOverrides | None) -> PlanOverrides:
    """base with the panel's settings that choice sets."""
    if choice is None:
        return base
    chosen = {k: getattr(choice, k) for k in PANEL_FIELDS if getattr(choice, k) is not None}
    return dataclasses.replace(base, **chosen)


def _panel_part(overrides: PlanOverrides) -> PlanOverrides:
    """Only the panel's settings of overrides."""
    return PlanOverrides(**{k: getattr(overrides, k) for k in PANEL_FIELDS})


def _with_choice(base: PlanOverrides, choice: PlanOverrides) -> PlanOverrides:
    """base with the panel's settings replaced by choice's (None: left to the planner)."""
    return dataclasses.replace(base, **{k: getattr(choice, k) for k in PANEL_FIELDS})


class LoadController(QObject):
    """Plans each load off the GUI thread, loads a plan that fits at once, refuses one that doesn't.

    A refused plan opens the load panel, where lowering the context (or another setting) or
    forcing after a warning loads it. Settings can be pinned per model.
    """

    planning = Signal(str)  # model path: a load was asked for
    refused = Signal(object, object)  # LoadPlan, InsufficientMemory: nothing was loaded
    plan_in_use = Signal(object, str)  # the loaded LoadPlan, and how it came about ("Auto-tuned")
    adjusted = Signal(object)  # PlannedLoad: the first try failed and a safer plan loaded

    def __init__(
        self,
        bridge: EngineBridge,
        panel: LoadPanel,
        hardware: HardwareProbe,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.panel = panel
        self.hardware = hardware
        self.plan: LoadPlan | None = None  # the plan the panel shows
        self._base = PlanOverrides()  # what the request and the pinned settings fix
        self._pinned = False
        self._asked: dict[str, LoadRequest] = {}  # each model's request as it was asked for
        bridge.planned.connect(self._on_planned)
        bridge.plan_loaded.connect(self._on_plan_loaded)
        panel.choice_changed.connect(self.replan)
        panel.load_requested.connect(self.accept)

    def load(self, request: LoadRequest) -> None:
        """Plan the request's model (pinned settings apply); the rest happens on signals."""
        self._asked[request.model_path] = request
        pinned = pinned_overrides(request.model_path)
        self._pinned = pinned is not None
        fixed = request_overrides(request)
        # the pinned settings, except where the request itself fixes one
        self._base = _merge(_merge(fixed, pinned), _panel_part(fixed))
        self.planning.emit(request.model_path)
        self.bridge.plan(request.model_path, self._base, self.hardware.get)

    def reload(self) -> None:
        """After a crash: plan the model that ran again, as it was asked for, on the memory
        free now (a crash for want of memory gets a plan that fits what is left)."""
        last = self.bridge.last_request
        if last is not None:
            self.load(self._asked.get(last.model_path, LoadRequest(model_path=last.model_path)))

    def show_details(self) -> None:
        """Open the load panel on the current plan."""
        if self.plan is not None:
            self.panel.show()
            self.panel.raise_()
            self.panel.activateWindow()

    def replan(self, choice: PlanOverrides) -> None:
        """Plan again with the panel's settings (the model and hardware are already known)."""
        plan = self._plan_with(choice)
        if plan is not None:
            self.plan = plan
            self.panel.update_plan(plan)

    def accept(self, choice: PlanOverrides, remember: bool, force: bool) -> None:
        """The panel's Load (or Load anyway): pin or unpin the settings, then load."""
        plan = self._plan_with(choice, force=force)
        if plan is None:
            return
        self.plan = plan
        if remember and not choice_is_auto(choice):
            pin_overrides(plan.model_path, choice)
        elif self._pinned:
            unpin_overrides(plan.model_path)
        self._pinned = remember and not choice_is_auto(choice)
        self._base = _with_choice(self._base, choice)
        self._start(plan)

    # -- internals ---------------------------------------------------------------------------

    def _plan_with(self, choice: PlanOverrides, *, force: bool = False) -> LoadPlan | None:
        current = self.plan
        if current is None or current.profile is None or current.hardware is None:
            return None
        overrides = dataclasses.replace(_with_choice(self._base, choice), force=force)
        try:
            return planner.plan(
                current.profile,
                current.hardware,
                overrides,
                model_path=current.model_path,
                draft_candidates=current.draft_candidates,
            )
        except ValueError as exc:  # e.g. a KV cache type this model's heads can't use
            self.panel.show_problem(str(exc))
            return None

    def _on_planned(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.panel.show_plan(plan, _panel_part(self._base), self._pinned)
        self._start(plan)

    def _start(self, plan: LoadPlan) -> None:
        try:
            check_plan(plan)
        except InsufficientMemory as exc:
            self.refused.emit(plan, exc)
            self.panel.update_plan(plan)
            self.show_details()
            return
        self.panel.hide()
        self.bridge.load_plan(plan)

    def _on_plan_loaded(self, done: PlannedLoad) -> None:
        self.plan = done.plan
        self.panel.show_plan(done.plan, _panel_part(self._base), self._pinned)
        if done.retried:
            how = "Safer settings"
            self.adjusted.emit(done)
        elif done.plan.forced:
            how = "Forced"
        elif self._pinned:
            how = "Your settings for this model"
        elif not choice_is_auto(_panel_part(self._base)):
            how = "Your settings"
        else:
            how = "Auto-tuned"
        self.plan_in_use.emit(done.plan, how)
