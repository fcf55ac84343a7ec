"""Hugging Face Space entry point: the velocity-bert demo (VELOCITY_BERT_MODEL: another model)."""

import os

import velocity_bert
from velocity_bert.demo import build_demo

demo = build_demo(os.environ.get("VELOCITY_BERT_MODEL") or velocity_bert.DEFAULT_MODEL)

if __name__ == "__main__":
    demo.launch()
