"""The vision stage's settings section (``CAMPUSGUARD_VISION__*``): the detector, reading cameras, zone rules.

Plain pydantic models: the composition root reads them from the environment; nothing here does. Every setting of
the stage lives here, the detector backends' configs and the zone rules' thresholds included, so reading the
settings imports neither OpenCV nor onnxruntime (a detector module names its config as ``config_class``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

MODELS = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS / "nanodet-m.onnx"


class RuleParams(BaseModel):
    """Thresholds of the zone rules, shared by every camera of a pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intrusion_min_s: Annotated[
        float, Field(ge=0, description="Seconds a person must stay in a restricted (or after-hours) zone.")
    ] = 2.0
    crowd_max: Annotated[
        int, Field(ge=1, description="More people than this in a crowd or gate zone is crowding, unless the zone "
                   "sets max_people.")
    ] = 10
    crowd_min_s: Annotated[float, Field(ge=0, description="Seconds the crowd must persist.")] = 5.0
    loiter_s: Annotated[
        float, Field(gt=0, description="Seconds one tracked person may stay in a zone before it is loitering, "
                     "unless the zone sets loiter_s.")
    ] = 120.0
    fallen_s: Annotated[
        float, Field(ge=0, description="Seconds a person must be seen lying to be a person down.")
    ] = 8.0
    object_min_frames: Annotated[
        int, Field(ge=1, description="Frames among the last object_window frames an object (knife, phone, "
                   "animal) must be seen in; one stray detection is not an alert.")
    ] = 3
    object_window: Annotated[
        int, Field(ge=1, le=64, description="How many recent frames object_min_frames counts over.")
    ] = 5
    grace_s: Annotated[
        float, Field(ge=0, description="A held condition survives gaps shorter than this (a detector missing "
                     "a person for a frame or two does not restart the clock).")
    ] = 3.0
    clear_s: Annotated[
        float, Field(ge=0, description="Seconds a condition must be absent after an event before the same "
                     "kind and zone may fire again (together with cooldown_s).")
    ] = 30.0
    cooldown_s: Annotated[
        float, Field(ge=0, description="Least seconds between two events of the same kind and zone.")
    ] = 300.0
    forget_s: Annotated[
        float, Field(gt=0, description="A track not seen for this long is forgotten (its dwell and pose).")
    ] = 10.0

    @model_validator(mode="after")
    def _window(self) -> RuleParams:
        if self.object_window < self.object_min_frames:
            raise ValueError("object_window must be at least object_min_frames")
        return self


class PersonShape(BaseModel):
    """The box a person may have where this applies: a sign post is too thin, a far-away cone too small."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_height: Annotated[
        float, Field(ge=0, le=1, description="Least box height, as a share of the frame's height.")
    ] = 0.02
    min_aspect: Annotated[
        float, Field(ge=0, description="Least width/height of the box (a standing person is about 0.4).")
    ] = 0.15
    max_aspect: Annotated[
        float, Field(gt=0, description="Most width/height of the box; a person lying on the floor is wide, so "
                     "only a zone where nobody lies (a gate) should set this low.")
    ] = 4.0

    @model_validator(mode="after")
    def _order(self) -> PersonShape:
        if self.max_aspect < self.min_aspect:
            raise ValueError("max_aspect must be at least min_aspect")
        return self


class ConfirmParams(BaseModel):
    """When a tracked detection counts as a person (or any object) for the zone rules: evidence over time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confirm_score: Annotated[
        float, Field(ge=0, le=1, description="A track is confirmed once the median of its recent detection "
                     "scores reaches this (Frigate's 'threshold'); once confirmed it stays so.")
    ] = 0.5
    score_window: Annotated[
        int, Field(ge=1, le=64, description="How many of a track's latest scores the median is taken over.")
    ] = 10
    min_hits: Annotated[
        int, Field(ge=1, description="Least scores a reported track needs before its median is judged: odd, so "
                   "the median is a score it had, not the mean of a weak and a lucky one.")
    ] = 3
    fresh_s: Annotated[
        float, Field(ge=0, description="Only tracks matched to a detection this long before the latest detector "
                     "call are counted (0: in that call, so a count never exceeds what the detector saw): a track "
                     "the tracker keeps alive after its person left, or an identity switch's ghost, counts nothing.")
    ] = 0.0
    shape: PersonShape = Field(default_factory=PersonShape, description="A person's box anywhere on a camera.")
    zone_shapes: dict[str, PersonShape] = Field(
        default_factory=dict, description="Per zone name (or 'camera_id/zone name', which wins): a person whose "
        "foot point is in that zone must also have this shape.")


class SceneParams(BaseModel):
    """Learning fixed things the detector takes for people (a cone, a sign post) as part of a camera's scene."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learn: Annotated[bool, Field(description="Learn still things as scene and mask them.")] = True
    learn_s: Annotated[
        float, Field(gt=0, description="Seconds a track must stand exactly still, from its first sighting, to be "
                     "learned as scene. Longer than any rule's hold (loitering's 120 s), so a real person still "
                     "from the start has raised what they would raise first.")
    ] = 300.0
    still_shift: Annotated[
        float, Field(gt=0, description="Largest centre shift from its first box, in box diagonals, that is still.")
    ] = 0.12
    still_resize: Annotated[
        float, Field(gt=0, description="Largest size change from its first box (log of the diagonals' ratio).")
    ] = 0.2
    mask_iou: Annotated[
        float, Field(gt=0, le=1, description="A detection whose box overlaps a learned object's this much (IoU) "
                     "is that object, whatever label the detector gives it this time.")
    ] = 0.5
    labels: tuple[str, ...] = Field(
        ("person", "cat", "dog", "bird", "sheep", "cow", "horse", "bear"),
        description="Labels that should move by themselves; only these are learned or masked (a knife lying "
        "still on a table is never masked).")
    reload_s: Annotated[
        float, Field(gt=0, description="How often a worker rereads its cameras' scene (to see an un-learn).")
    ] = 10.0


class DetectorConfigBase(BaseModel):
    """Settings every backend has; a backend's config adds ``type`` and its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_threshold: float = Field(
        0.3, ge=0.0, le=1.0, description="Lowest score kept, for labels without their own threshold."
    )
    label_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-label lowest score, e.g. a stricter one for 'knife'."
    )
    labels: list[str] | None = Field(
        None, description="Labels to keep (an allow-list); None keeps every label the model knows."
    )
    nms_iou: float = Field(
        0.6, gt=0.0, le=1.0, description="Overlap (IoU) above which a lower-scored box of the same label is dropped."
    )
    intra_op_threads: int = Field(2, ge=1, le=64, description="onnxruntime threads inside one operator.")
    inter_op_threads: int = Field(1, ge=1, le=64, description="onnxruntime threads across operators.")

    def lowest_threshold(self) -> float:
        """Return the lowest score any label may pass with; decoding can drop everything below it early."""
        return min([self.score_threshold, *self.label_thresholds.values()])


class NanoDetConfig(DetectorConfigBase):
    """NanoDet-m on COCO's 80 labels; cheap enough for every camera on a CPU."""

    type: Literal["nanodet"] = Field("nanodet", description="Selects the NanoDet backend.")
    model_path: Path = Field(DEFAULT_MODEL, description="The NanoDet ONNX file; the committed NanoDet-m by default.")


class YoloConfig(DetectorConfigBase):
    """An Ultralytics-style YOLO export with the district's own class list."""

    type: Literal["yolo"] = Field("yolo", description="Selects the generic YOLO backend.")
    model_path: Path = Field(description="The YOLO ONNX export.")
    classes: list[str] = Field(min_length=1, description="Class names in the model's class-index order.")
    input_size: int | None = Field(
        None,
        ge=32,
        le=4096,
        description="Square input side in pixels; None reads it from the model (640 when the model leaves it open).",
    )


DetectorConfig = Annotated[NanoDetConfig | YoloConfig, Field(discriminator="type")]


class VideoSettings(BaseModel):
    """Video as a person sees it (vision/video/, docs/video.md): recording, retention, clips, live view.

    ``campusguard video`` records every camera of the site with these settings; the web process reads the root
    (clips) and ffmpeg (live view).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Annotated[Path, Field(description="Folder for segments (<root>/segments/<camera>/) and clips; beside "
                                "data_dir's default, on a disk with room for the retention.")] = Path("./.run/video")
    segment_s: Annotated[
        int, Field(ge=2, le=600, description="Segment length in seconds, cut at the first keyframe after each "
                   "multiple of it on the clock.")
    ] = 10
    retention_days: Annotated[
        float, Field(gt=0, le=3650, description="Days a camera's recording is kept (provincial rules ask 30).")
    ] = 30.0
    camera_retention_days: dict[str, float] = Field(
        default_factory=dict, description="Retention per camera id, where it differs from retention_days.")
    disk_budget_gb: Annotated[
        float | None, Field(gt=0, description="Most gigabytes segments may take; oldest are evicted first. None: "
                            "the free space of the root's disk, less reserve_gb.")
    ] = None
    reserve_gb: Annotated[float, Field(ge=0, description="Space left free on the disk when no budget is set.")] = 5.0
    sweep_s: Annotated[float, Field(gt=0, description="How often retention and the budget are applied.")] = 60.0
    clip_before_s: Annotated[float, Field(ge=0, le=300, description="Seconds of a clip before the finding.")] = 10.0
    clip_after_s: Annotated[float, Field(ge=0, le=300, description="Seconds of a clip after the finding.")] = 20.0
    ffmpeg: Annotated[str, Field(min_length=1, description="The ffmpeg program.")] = "ffmpeg"
    tamper: Annotated[
        bool, Field(description="Judge each segment's first picture against the camera's usual one: a covered, "
                    "defocused or turned-away camera raises camera_tamper.")
    ] = True
    roles: frozenset[str] = Field(
        frozenset({"school_admin", "district_officer", "district_admin", "admin"}),
        description="Roles that may watch video (live and clips), which shows faces unblurred; everyone else sees "
        "only the face-blurred snapshot of an incident. The default is the roles that may see faces in snapshots.")


class VisionSettings(BaseModel):
    """How cameras are read, what the detector is, and the zone rules' thresholds."""

    model_config = ConfigDict(extra="forbid")

    detector: Annotated[
        DetectorConfig, Field(description='Object detector; {"type": "nanodet"} (shipped) or {"type": "yolo", ...}.')
    ] = Field(default_factory=NanoDetConfig)
    rules: RuleParams = Field(default_factory=RuleParams)
    confirm: ConfirmParams = Field(default_factory=ConfirmParams)
    scene: SceneParams = Field(default_factory=SceneParams)
    video: VideoSettings = Field(default_factory=VideoSettings)
    pose: Annotated[bool, Field(description="Judge fallen people by body pose (MoveNet), not only box shape.")] = True
    blur_faces: Annotated[bool, Field(description="Find faces in snapshots and keep a blurred copy to show.")] = True
    gated: Annotated[bool, Field(description="Detect only frames with motion or due a periodic check.")] = True
    max_width: Annotated[int, Field(ge=160, le=3840, description="Frames wider than this are downscaled.")] = 640
    stall_s: Annotated[
        float, Field(ge=1, description="Seconds without a frame before a camera is reported offline.")
    ] = 30.0
    read_timeout_s: Annotated[
        float, Field(ge=0.5, description="Seconds one frame may take before the stream is reopened.")
    ] = 5.0
    full_check_s: Annotated[
        float, Field(gt=0, description="Longest time without detecting when nothing is tracked.")
    ] = 3.0
    track_refresh_s: Annotated[
        float, Field(gt=0, description="Longest time without detecting while something is tracked and still.")
    ] = 1.0
    moving_refresh_s: Annotated[
        float, Field(gt=0, description="Longest time without detecting while only tracked things move (0.15: every "
                     "frame at 5 fps, every other at 10; at 0.6 a real courtyard's gated recall fell 14 points "
                     "below every-frame detection, docs/vision.md).")
    ] = 0.15
    sighting_every_s: Annotated[
        float, Field(gt=0, description="How often a tracked object is written to the detections table.")
    ] = 5.0
    threads: Annotated[int, Field(ge=1, le=64, description="Threads for each model's inference.")] = 2


class VisionProcess(Protocol):
    """What a vision process is given by the composition root (``campusguard.settings.Settings`` is one)."""

    @property
    def database_url(self) -> str:
        """Where detections, snapshots and camera events are stored."""

    @property
    def vision(self) -> VisionSettings:
        """This stage's section."""
