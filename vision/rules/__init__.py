"""Zone rules: one camera's observations in, :class:`~vision.messages.VisionEvent` out, pure and bounded.

``evaluate(rules, params, state, obs) -> (state, events)`` with :class:`ZoneState` starting at
:data:`EMPTY_STATE`. Only objects of the observation's own frame are judged; person tracks are remembered
(``forget_s`` after last seen) for their dwell in each zone and their lying run.

The conditions, each per *situation*, one event kind in one zone (none: the whole camera):

* **intrusion** (zone, or none on a camera without zones after hours): a person in a ``restricted`` zone, or
  in any zone after hours (outside every window of the zone's own ``hours``, or the school's hours when it has
  none, in the school's local time), held for
  ``intrusion_min_s``. Detail: zone, after_hours, count, track_ids.
* **crowding** (zone): more people in the zone than its ``max_people``, else ``crowd_max`` for ``crowd`` and
  ``gate`` zones (other kinds only when the zone sets one), held for ``crowd_min_s``.
* **loitering** (zone of kind gate, general, restricted or crowd): one track in the zone for the zone's
  ``loiter_s``, else ``params.loiter_s``. Detail: dwell_s of the longest stay.
* **person_down** (whole camera): a person track whose lying verdicts have been True for ``fallen_s``;
  frames without a verdict (None) leave the run alone, a False ends it.
* **knife_outside_kitchen** (whole camera): a knife or baseball bat on a camera that is not a kitchen, not
  in a ``kitchen`` zone. **phone_in_kitchen** (zone): a cell phone in a ``kitchen`` zone.
  **animal_in_kitchen** (zone, or none): a cat, dog or bird in a ``kitchen`` zone, or anywhere on a kitchen
  camera. These three must hold in ``object_min_frames`` of the last ``object_window`` observations.

Holding: a condition *holds since* the first observation of its current run; a gap shorter than ``grace_s``
(the detector missing someone for a frame or two) does not break the run, a longer one restarts it.

Firing and cooldown, per situation. The situation fires, dated at the observation's time and carrying that
frame's boxes, at the first observation where the condition holds, has held long enough (and in enough
frames), the situation is *armed*, and at least ``cooldown_s`` have passed since its last event. Firing
disarms it; it is armed again once the condition has been absent (not held in any observation) for
``clear_s``. So:

* one situation, however long it lasts and however its count changes, makes one event;
* a flickering condition makes at most one event per ``cooldown_s``;
* a second situation after the first has cleared for ``clear_s`` makes a second event, at once if
  ``cooldown_s`` has passed since the first, else as soon as it has (delayed, never dropped, while the
  condition still holds then): events of one kind and zone are always at least ``cooldown_s`` apart.

Observations should come no more than ``grace_s`` apart for holds to run, and an observation older than the
previous one is ignored.
"""

from vision.config import RuleParams
from vision.rules.engine import evaluate
from vision.rules.state import EMPTY_STATE, Situation, TrackMemory, ZoneState, ZoneVisit

__all__ = ["EMPTY_STATE", "RuleParams", "Situation", "TrackMemory", "ZoneState", "ZoneVisit", "evaluate"]
