"""Write the default tokenizer's file (`tokenizer/velocity_tokenizer.json`) and print its vocabulary
sizes; the config's DEFAULT_FIELD_VOCAB_SIZES and this file must agree (a test checks both).

    python tokenizer/build_tokenizer.py [--sustain_pedal]
"""

import argparse
import json
from pathlib import Path

from velocity_bert.tokenization_velocity_bert import FIELDS, VelocityBertTokenizer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sustain_pedal", action="store_true", help="durations as sounding under the sustain pedal (train.py's flag)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent), help="folder to write into (default: tokenizer/)")
    args = parser.parse_args()
    tok = VelocityBertTokenizer(sustain_pedal=args.sustain_pedal)
    path = tok.save_pretrained(args.out)
    print(path)
    print(json.dumps(dict(zip(FIELDS, tok.field_vocab_sizes))))


if __name__ == "__main__":
    main()
