import velocity_bert as vb
from tests.conftest import make_score
from velocity_bert.data import list_files
from velocity_bert.decoding import DecodingOptions
from velocity_bert.evaluation import evaluate


def test_explicit_files_match_the_split_and_report_decoding_time(tiny_model_dir, tmp_path):
    for i in range(12):
        (tmp_path / f"piece{i}").mkdir()
        make_score(80, seed=i, drums=False).dump_midi(str(tmp_path / f"piece{i}" / "p.mid"))
    pipe = vb.load_pipeline(str(tiny_model_dir))
    args = (pipe.model, pipe.velocity_tokenizer, tmp_path)
    options = DecodingOptions(overlap=16)
    by_split = evaluate(*args, split="train", setting="all", options=options, max_files=3, progress=False)
    files = list_files(tmp_path, "train")[:3]
    by_list = evaluate(*args, setting="all", options=options, files=files, progress=False)
    assert by_list["results"] == by_split["results"] and by_list["files"] == 3
    assert by_list["decode_seconds"] > 0 and by_list["overlap"] == 16 and by_list["passes"] == 1
