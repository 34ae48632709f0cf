"""Store edge agent: capture -> detect -> seats -> state -> store -> uplink."""

import os

# OpenCV and the FFmpeg inside it write their own lines straight to stderr ("[tcp @ 0x...]
# Connection refused", "global cap.cpp:212 ..."): during a camera outage they were half of the
# agent's log. The capture stage reports each failure once, in words, with the channel. Set
# before any cv2 import (this package is imported first); set them yourself to see them again.
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
