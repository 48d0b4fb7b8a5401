#!/usr/bin/python3
"""Writes the mobile-vision scenario's sample video (docs/mobile-vision.md).

``examples/mobile-vision/digits.y4m``: a YUV4MPEG2 video (64x64, monochrome, 15 fps) that
shows the first ``--digits`` held-out digits of ``examples/mobile-vision/heldout.kimg`` (images
no model was trained on), each for ``--frames-per-digit`` frames, enlarged 2x with bilinear
interpolation and with fresh sensor noise in every frame; and ``digits.labels.json``, the true
label of every frame, which ``keel run --labels`` compares the predictions with.

Run from the repository root with Debian's python3 (numpy only)::

    /usr/bin/python3 tools/make_vision_video.py

``digits.mp4`` is the same video as H.264, the way a phone records (Debian's ffmpeg)::

    ffmpeg -v error -y -i examples/mobile-vision/digits.y4m -c:v libx264 -preset veryslow \
      -crf 20 -pix_fmt yuv420p -x264-params threads=1 -map_metadata -1 -fflags +bitexact \
      -flags:v +bitexact examples/mobile-vision/digits.mp4
"""

import argparse
import json
import struct

import numpy as np


def read_kimg(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"KIMG1\n", "not a KIMG1 file"
    (length,) = struct.unpack("<Q", data[6:14])
    header = json.loads(data[14:14 + length])
    w, h, c, n = header["width"], header["height"], header["channels"], header["count"]
    pixels = np.frombuffer(data[14 + length:], dtype=np.uint8).reshape(n, h, w, c)[..., 0]
    return header, pixels


def enlarge(img, factor):
    h, w = img.shape
    ys = (np.arange(h * factor) + 0.5) / factor - 0.5
    xs = (np.arange(w * factor) + 0.5) / factor - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 1)
    y1, x1 = np.clip(y0 + 1, 0, h - 1), np.clip(x0 + 1, 0, w - 1)
    ay = np.clip(ys - y0, 0, 1)[:, None]
    ax = np.clip(xs - x0, 0, 1)[None, :]
    f = img.astype(np.float32)
    top = f[y0][:, x0] * (1 - ax) + f[y0][:, x1] * ax
    bottom = f[y1][:, x0] * (1 - ax) + f[y1][:, x1] * ax
    return top * (1 - ay) + bottom * ay


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--heldout", default="examples/mobile-vision/heldout.kimg")
    ap.add_argument("--out", default="examples/mobile-vision/digits.y4m")
    ap.add_argument("--labels-out", default="examples/mobile-vision/digits.labels.json")
    ap.add_argument("--digits", type=int, default=48)
    ap.add_argument("--frames-per-digit", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261208)
    args = ap.parse_args()

    header, images = read_kimg(args.heldout)
    rng = np.random.default_rng(args.seed)
    labels = []
    size = images.shape[1] * 2
    with open(args.out, "wb") as f:
        f.write(f"YUV4MPEG2 W{size} H{size} F15:1 Ip A1:1 Cmono\n".encode())
        for i in range(args.digits):
            big = enlarge(images[i], 2)
            for _ in range(args.frames_per_digit):
                frame = np.clip(np.round(big + rng.normal(0, 3, big.shape)), 0, 255).astype(np.uint8)
                f.write(b"FRAME\n")
                f.write(frame.tobytes())
                labels.append(header["labels"][header["targets"][i]])
    with open(args.labels_out, "w") as f:
        json.dump({"video": args.out.split("/")[-1], "fps": 15, "labels": labels}, f)
        f.write("\n")
    print(f"wrote {args.out} ({len(labels)} frames of {size}x{size}) and {args.labels_out}")


if __name__ == "__main__":
    main()
