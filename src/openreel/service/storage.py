"""Media files of jobs, under <data_dir>/videos/<video id>/.

One folder per job keeps deletion a single rmtree. Every file is written
atomically (temporary file, then rename), so a crash never leaves half a file
where a reader would find it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

VARIANTS = {  # Videos API variant -> (file name, content type)
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}
NATIVE = "native.mp4"  # the clip at the model's native size: the source for remix, edit and extend
INPUT_IMAGE = "input.png"  # an input_reference, decoded and re-encoded
SOURCE_VIDEO = "source.mp4"  # an uploaded video for an edit or extension


class Storage:
    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir) / "videos"
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, video_id: str, create: bool = False) -> Path:
        if not video_id.startswith("video_") or "/" in video_id or ".." in video_id:
            raise ValueError(f"not a video id: {video_id!r}")
        path = self.root / video_id
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, video_id: str, name: str) -> Path:
        return self.folder(video_id) / name

    @staticmethod
    def ref(video_id: str, name: str) -> str:
        """A stored file as a job spec names it: asset:<video id>/<file name>."""
        return f"asset:{video_id}/{name}"

    def resolve(self, ref: str) -> Path:
        """A job spec's reference -> the file's path here."""
        if not ref.startswith("asset:") or ref.count("/") != 1:
            raise ValueError(f"not a stored reference: {ref!r}")
        video_id, name = ref[len("asset:"):].split("/")
        if name not in {NATIVE, INPUT_IMAGE, SOURCE_VIDEO, *(v[0] for v in VARIANTS.values())}:
            raise ValueError(f"not a stored file: {name!r}")
        return self.path(video_id, name)

    def variant(self, video_id: str, variant: str) -> tuple[Path, str]:
        name, content_type = VARIANTS[variant]
        return self.path(video_id, name), content_type

    def delete(self, video_id: str) -> None:
        shutil.rmtree(self.folder(video_id), ignore_errors=True)
