"""Hugging Face Space entry point: the velocity-bert demo."""

import os

from velocity_bert.demo import build_demo

demo = build_demo(os.environ.get("VELOCITY_BERT_MODEL") or __import__("velocity_bert").DEFAULT_MODEL)

if __name__ == "__main__":
    demo.launch()
