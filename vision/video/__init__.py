"""Video as a person sees it: continuous recording in segments, retention, incident clips and the live relay.

Everything is stream copy (ffmpeg ``-c copy``): a camera's H.264 is stored and sent as it arrived, never
re-encoded. :mod:`.segments` holds the pure rules (segment list parsing, retention and the disk budget),
:mod:`.ffmpeg` the command lines and probes, :mod:`.recorder` one recording process per camera,
:mod:`.clips` cutting a clip from segments, :mod:`.live` one upstream per camera fanned out to viewers, and
:mod:`.service` the process that ties recording, sweeping and clipping to the database. docs/video.md tells why.
"""
