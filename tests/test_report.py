import json
import re

import pandas as pd
import pytest

from aesearch_utils import config
from aesearch_utils.course import report
from aesearch_utils.data.perturbations import PERTURBATIONS
from aesearch_utils.errors import UnknownNameError
from aesearch_utils.io import write_json


@pytest.mark.parametrize("document", report.REPORTS)
def test_readme_tables_match_the_committed_results(document):
    readme = (config.project_root() / document).read_text(encoding="utf-8")
    assert "<!-- table:" in readme
    assert report.render_readme(readme, config.project_root() / "results") == readme, (
        "README.md tables differ from results/: run `make readme`"
    )


def test_a_marked_table_is_regenerated(tmp_path):
    machine = {"cpus": 2, "processor": "x86_64", "cpu_model": "AMD EPYC"}
    write_json(
        tmp_path / "notebook_times.json",
        {"machine": machine, "seconds": {"02_b": 61.2, "01_a": 9.6}, "wall_seconds": 72.0},
    )
    text = "intro\n<!-- table:notebook_times -->\nold\n<!-- /table -->\nend\n"
    write_json(
        tmp_path / "notebook_times_rerun.json",
        {"machine": machine, "seconds": {"02_b": 5.0}, "wall_seconds": 7.2},
    )
    rendered = report.render_readme(text, tmp_path)
    header = "| notebook (full profile) | first run, empty caches | rerun, everything cached |"
    assert rendered.startswith(f"intro\n<!-- table:notebook_times -->\n{header}")
    assert rendered.index("01_a | 10 s |  |") < rendered.index("02_b | 61 s | 5 s |")
    # a total is the run's wall clock: the notebooks and the first kernel's start
    assert "| **total** (the whole run, wall clock) | 1.2 min | 0.1 min |" in rendered
    assert (
        "Goals: first run within 60 min: met (1.2 min); rerun within 5 min: met (0.1 min); "
        "every notebook within 10 min: met. Measured on 2 CPU cores (AMD EPYC)." in rendered
    )
    assert rendered.endswith("<!-- /table -->\nend\n") and "old" not in rendered


def test_the_time_goals_name_what_missed_them(tmp_path):
    write_json(
        tmp_path / "notebook_times.json",
        {
            "machine": {"cpus": 2, "processor": "x86_64"},
            "seconds": {"10_a": 1115.0, "12_b": 2700},
            "wall_seconds": 3820.0,
        },
    )
    rendered = report.render_readme("<!-- table:notebook_times -->\n<!-- /table -->", tmp_path)
    assert (
        "Goals: first run within 60 min: **missed** (63.7 min); every notebook within 10 min: "
        "**missed** (over it: 10_a, 12_b)." in rendered
    )


def test_unknown_table_name(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown README table 'speed'"):
        report.render_readme("<!-- table:speed -->\n<!-- /table -->", tmp_path)


def test_the_autoencoders_table_quotes_the_seed_reports_beside_our_numbers(tmp_path):
    columns = {
        "model": ["conv_upsampling", "conv_bn", "dense"],
        "dataset": ["mnist", "mnist", "fashion_mnist"],
        "train_images": [60000, 20000, 60000],
        "noise": ["none", "none", "gaussian 0.3"],
        "latent_dim": [196, 196, 32],
        "parameters": [1625, 1685, 10],
        "epochs_run": [6, 6, 1],
        "seconds_per_epoch": [16.0, 20.0, 1.0],
        "train_mse": [0.01, 0.009, 0.1],
        "test_mse": [0.011, 0.0095, 0.1],
        "precision_at_10": [0.9, 0.91, 0.5],
        "dead_latent_dims": [49, 0, 0],
    }
    pd.DataFrame(columns).to_csv(tmp_path / "autoencoders.csv", index=False)
    table = report.autoencoders_table(tmp_path)
    lines = table.splitlines()
    assert len(lines) == 4, "the denoising row is not a seed-table row"
    assert (
        "| conv_upsampling | mnist | 60,000 | 196 | 1,625 | 6 | 16.0 | 0.0100 | 0.0110 | 0.0065 |"
        in table
    )
    assert "| 0.0032 | 0.0407 | 0.900 | 49 |" in table
    assert (
        "| conv_bn | mnist | 20,000 | 196 | 1,685 | 6 | 20.0 | 0.0090 | 0.0095 |  |  |  | 0.910 |"
        in table
    )


def test_the_benchmark_table_puts_baselines_first_and_both_metrics_side_by_side(tmp_path):
    rows = []
    for dataset in ("cifar10", "mnist"):
        for features, kind, score in (
            ("dense", "autoencoder", 0.9),
            ("raw_pixels", "baseline", 0.8),
        ):
            for metric, shift in (("euclidean", 0.0), ("cosine", 0.01)):
                rows.append(
                    {
                        "dataset": dataset, "features": features, "kind": kind,
                        "latent_dim": 32 if kind == "autoencoder" else 784, "metric": metric,
                        "precision_at_10": score + shift, "map_at_100": score - 0.1 + shift,
                        "seed_precision_at_7": score,
                        "test_mse": 0.01 if kind == "autoencoder" else None,
                        "train_seconds": 12.0, "encode_images_per_s": 5000, "query_ms_p50": 1.5,
                    }
                )  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "benchmark.csv", index=False)
    lines = report.benchmark_table(tmp_path).splitlines()
    assert [line.split(" | ")[:2] for line in lines[2:]] == [
        ["| mnist", "*raw_pixels*"], ["| mnist", "dense"],
        ["| cifar10", "*raw_pixels*"], ["| cifar10", "dense"],
    ]  # fmt: skip
    assert (
        "| mnist | dense | 32 | 0.900 / 0.910 | 0.800 / 0.810 | 0.900 / 0.900 | 0.0100 |"
        in lines[3]
    )
    assert lines[2].endswith("| 0.800 / 0.800 |  | 12 | 5,000 | 1.50 | full |")
    assert lines[3].endswith("| full |") and lines[5].endswith("| extended |")
    verdict = report.benchmark_verdict(tmp_path).splitlines()
    assert verdict[0] == (
        "- mnist, euclidean: the best baseline is raw_pixels (precision_at_10 0.800); "
        "beaten by dense (0.900)."
    )
    assert len(verdict) == 8 and verdict[2].startswith("- cifar10, euclidean:")


def test_the_vae_table_lists_precision_per_noise_level(tmp_path):
    write_json(
        tmp_path / "07_vae_mnist.json",
        {
            "latent_dim": 32, "epochs": 5, "noise_levels": [0.0, 0.5],
            "final_epoch": {"val_reconstruction": 0.087, "val_kl": 0.034},
            "precision_at_10": {"VAE": [0.96, 0.38], "autoencoder": [0.95, 0.54]},
        },
    )  # fmt: skip
    table = report.vae_table(tmp_path)
    assert table.startswith("mnist, 32-D codes, 5 epochs;")
    assert "reconstruction 0.0870 + KL 0.0340" in table
    assert "| 0.5 | 0.380 | 0.540 |" in table.splitlines()


def test_the_best_pipelines_table_marks_the_targets_intervals_and_margins(tmp_path):
    common = {
        "train_seconds": 100.0,
        "fit_seconds": 20.0,
        "query_ms_p50": 1.5,
        "map_at_100": 0.9,
        "precision_at_10_low": 0.5,
        "precision_at_10_high": 0.6,
        "map_at_100_retrieved_low": 0.7,
        "map_at_100_retrieved_high": 0.8,
    }
    rows = [
        {"dataset": "cifar10", "pipeline": "cifar10-best", "kind": "autoencoder", "steps": "s",
         "precision_at_10": 0.49, "map_at_100_retrieved": 0.49, **common},
        {"dataset": "mnist", "pipeline": "raw pixels, cosine", "kind": "baseline", "steps": "raw",
         "precision_at_10": 0.955, "map_at_100_retrieved": 0.934, "margin": 0.031,
         "margin_low": 0.028, "margin_high": 0.034, **common},
        {"dataset": "mnist", "pipeline": "mnist-best", "kind": "autoencoder", "steps": "a | b",
         "precision_at_10": 0.986, "map_at_100_retrieved": 0.971, **common},
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "12_best_pipelines.csv", index=False)
    lines = report.best_pipelines_table(tmp_path).splitlines()
    # MNIST first (catalogue order), its winner before its baseline; targets only on winners
    assert lines[2].startswith(
        "| mnist | **mnist-best** | a → b | 0.986 (≥ 0.985) [0.500, 0.600] | "
        "0.971 (< 0.98) [0.700, 0.800] | 0.900 |  | 120 |"
    )
    assert lines[3].startswith(
        "| mnist | raw pixels, cosine | raw | 0.955 [0.500, 0.600] | 0.934 [0.700, 0.800] | "
        "0.900 | +0.031 [0.028, 0.034] | 120 |"
    )
    assert "| 0.490 (< 0.5) [0.500, 0.600] | 0.490 (≥ 0.48)" in lines[4]


def test_the_robustness_table_names_each_datasets_pipelines_once(tmp_path):
    rows = [
        {"dataset": dataset, "change": change, "pipeline": name, "precision_at_10": score + shift,
         "precision_at_10_low": score + shift - 0.01, "precision_at_10_high": score + shift + 0.01}
        for dataset in ("cifar10", "mnist")
        for change, shift in (("none", 0.0), ("blur", -0.1))
        for name, score in ((f"{dataset}-best", 0.9), ("hog, validation's best", 0.8),
                            ("raw pixels, cosine", 0.7))
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "12_robustness.csv", index=False)
    lines = report.robustness_table(tmp_path).splitlines()
    assert lines[2] == (
        "| mnist (mnist-best / hog, validation's best / raw pixels, cosine) | none | "
        "0.900 [0.890, 0.910] | 0.800 [0.790, 0.810] | 0.700 [0.690, 0.710] |"
    )
    assert lines[3].startswith("|  | blur | 0.800 [0.790, 0.810] | 0.700")
    assert lines[4].startswith("| cifar10 (cifar10-best / ")


def test_the_reopen_table_reads_its_results_file(tmp_path):
    write_json(
        tmp_path / "pipeline_reopen.json",
        {"pipeline": "mnist-best", "gallery_images": 60000, "test_queries": 10000,
         "build_fit_s": 41.0, "save_s": 0.5, "saved_mib": 40.2, "same_top10_every_query": True,
         "import_search_core_s": 0.4, "import_keras_s": 3.1, "open_s": 0.9, "repeats": 3,
         "machine": {"cpus": 2, "processor": "x86_64"}},
    )  # fmt: skip
    table = report.pipeline_reopen_table(tmp_path)
    assert "| `SearchPipeline.open` | 0.90 s |" in table
    assert "all 10,000 test queries | yes |" in table and "Median of 3 fresh processes" in table


def test_a_score_just_below_its_target_is_not_rounded_up_to_it():
    assert report._against(0.8397, 0.84) == "0.8397 (< 0.84)"
    assert report._against(0.9740, 0.97) == "0.974 (≥ 0.97)"
    assert report._against(0.4270, None) == "0.427"


def _read(folder):
    return json.loads((folder / "service_load.json").read_text())


def test_the_service_tables_read_their_results_files(tmp_path):
    machine = {"cpus": 2, "processor": "x86_64"}
    stages = {"read_body": 0.5, "queue": 30.0, "decode": 0.1, "encode": 0.4, "search": 0.8,
              "respond": 0.2}  # fmt: skip

    def run(name, searches_per_s, p99):
        return {"name": name, "clients": 32, "processes": 1, "mean_batch": 7.7,
                "service": {"searches_per_s": searches_per_s, "searches": 6000, "errors": 0,
                            "latency_p50_ms": 80, "latency_p95_ms": 120, "latency_p99_ms": p99,
                            "client_cpu_ms_per_search": 0.15},
                "stages_ms": stages, "request_ms": 60.0}  # fmt: skip

    write_json(
        tmp_path / "service_load.json",
        {"gallery": "mnist-best", "gallery_images": 60000, "seconds": 60,
         "runs": [run("32 clients", 400.0, 170), run("128 clients", 300.0, 900)],
         "in_process_searches_per_s": 150.0, "machine": machine,
         "goals": {"errors": 0, "latency_p99_ms_at_most": 250, "searches_per_s_at_least": 350}},
    )  # fmt: skip
    load = report.service_load_table(tmp_path)
    assert "| 32 clients | 400.0 | 80 / 120 / 170 ms | 0 of 6,000 | 7.7 | 0.15 ms |" in load
    assert "| in-process, 1 thread | 150.0 |" in load
    assert "p99 at most 250 ms: met (170 ms); at least 350 searches/s: met (400.0)" in load
    assert "| search | 0.80 | 0.80 |" in load
    write_json(tmp_path / "service_load.json", {**_read(tmp_path), "runs": [run("32", 300.0, 260)]})
    load = report.service_load_table(tmp_path)
    assert "p99 at most 250 ms: **missed** (260 ms)" in load and "**missed** (300.0)" in load
    view = {"rows": 1000000, "insert_s": 15, "insert_rows_per_s": 66667, "reopen_s": 1.5,
            "reopen_peak_rss_mib": 3000, "query_p50_ms": 60, "recall_at_10": 1.0,
            "disk_mib": 1300}  # fmt: skip
    write_json(
        tmp_path / "store_scale.json",
        {"dim": 128, "queries": {"embedded": 200, "milvus_lite": 10}, "embedded": view,
         "milvus_lite": view, "machine": machine},
    )  # fmt: skip
    scale = report.store_scale_table(tmp_path)
    assert "| embedded (SQLite + FAISS) | 1,000,000 | 15 s (66,667 rows/s) | 1.50 s |" in scale
    assert "| 60.0 ms (10 queries) |" in scale


def test_the_training_speed_table_has_a_column_per_backend_and_batch_size(tmp_path):
    rows = [
        {"dataset": "mnist", "backend": backend, "model": "dense", "batch_size": batch,
         "seconds_per_epoch": seconds}
        for backend, batch, seconds in (("tensorflow", 128, 5.87), ("jax", 128, 3.9))
    ] + [{"dataset": "cifar10", "backend": "tensorflow", "model": "conv_deep", "batch_size": 128,
          "seconds_per_epoch": 52.8}]  # fmt: skip
    machine = {"cpus": 2, "processor": "x86_64", "cpu_model": "AMD EPYC"}
    machine["vector_extension"] = "avx2"
    write_json(
        tmp_path / "training_speed.json",
        {"machine": machine, "images_timed": 10000, "epochs_timed": 2, "rows": rows},
    )
    lines = report.training_speed_table(tmp_path).splitlines()
    assert lines[0] == "| dataset | model | tensorflow, batch 128 (s) | jax, batch 128 (s) |"
    assert lines[2:4] == ["| mnist | dense | 5.9 | 3.9 |", "| cifar10 | conv_deep | 52.8 |  |"]
    assert lines[-1].startswith("Mean of 2 epochs on 10,000 images")
    assert lines[-1].endswith("Measured on 2 CPU cores (AMD EPYC, avx2).")


def test_the_seed_spread_table_reads_its_results_file(tmp_path):
    runs = [
        {"seed": seed, "precision_at_10": p, "map_at_100_retrieved": p - 0.01,
         "train_seconds": 100.0 + seed}
        for seed, p in ((0, 0.98), (1, 0.97), (2, 0.99))
    ]  # fmt: skip
    write_json(
        tmp_path / "seed_spread.json",
        {"rows": [{"pipeline": "mnist-best", "dataset": "mnist", "precision_at_10_mean": 0.98,
                   "precision_at_10_sd": 0.01, "map_at_100_retrieved_mean": 0.97,
                   "map_at_100_retrieved_sd": 0.01, "runs": runs}]},
    )  # fmt: skip
    line = report.seed_spread_table(tmp_path).splitlines()[2]
    assert line == (
        "| mnist-best | 0, 1, 2 | 0.9800, 0.9700, 0.9900 | 0.9800 ± 0.0100 | "
        "0.9700, 0.9600, 0.9800 | 0.9700 ± 0.0100 |"
    )


def test_the_fine_tuning_table_marks_the_recipe_the_rule_chose(tmp_path):
    rows = [
        {"dataset": "mnist", "features": "conv_fc_transpose_augmented:pool2", "recipe": recipe,
         "epochs": epochs, "train_seconds": seconds, "precision_at_10": p,
         "map_at_100_retrieved": p - 0.01}
        for recipe, epochs, seconds, p in (("from scratch", 10, 300.0, 0.98),
                                           ("fine-tuned", 2, 160.4, 0.97),
                                           ("fine-tuned", 4, 220.0, 0.979))
    ]  # fmt: skip
    machine = {"cpus": 2, "cpu_model": "AMD EPYC", "vector_extension": "avx2"}
    write_json(
        tmp_path / "fine_tuning.json", {"machine": machine, "chosen_epochs": 4, "rows": rows}
    )
    lines = report.fine_tuning_table(tmp_path).splitlines()
    assert lines[2] == (
        "| mnist | conv_fc_transpose_augmented:pool2 | from scratch, 10 epochs | 300 | 0.9800 "
        "| 0.9700 |"
    )
    assert lines[3].split(" | ")[2] == "fine-tuned, 2 epochs"
    assert lines[4].split(" | ")[2] == "**fine-tuned, 4 epochs** (chosen)"
    assert lines[-1] == "Measured on 2 CPU cores (AMD EPYC, avx2)."


def test_the_encoder_variants_table_reads_its_results_file(tmp_path):
    rows = [
        {"pipeline": "mnist-best", "dataset": "mnist", "model": "conv_fc_transpose",
         "variant": variant, "parameters": parameters, "train_seconds": seconds,
         "precision_at_10": p, "map_at_100": p - 0.02, "map_at_100_retrieved": p - 0.01}
        for variant, parameters, seconds, p in (("registered", 430273, 109.4, 0.98),
                                                ("wider", 900001, 300.6, 0.981))
    ]  # fmt: skip
    machine = {"cpus": 2, "cpu_model": "AMD EPYC", "vector_extension": "avx2"}
    write_json(tmp_path / "encoder_variants.json", {"machine": machine, "rows": rows})
    assert report.encoder_variants_table(tmp_path).splitlines()[2:] == [
        "| mnist-best | conv_fc_transpose | registered | 430,273 | 109 | 0.9800 | 0.9700 |",
        "| mnist-best | conv_fc_transpose | wider | 900,001 | 301 | 0.9810 | 0.9710 |",
        "",
        "Measured on 2 CPU cores (AMD EPYC, avx2).",
    ]


def test_the_robustness_shortfalls_name_the_changes_where_the_winner_falls_behind(tmp_path):
    rows = [
        {"dataset": "mnist", "change": change, "pipeline": name, "precision_at_10": score,
         "precision_at_10_low": 0.0, "precision_at_10_high": 1.0}
        for change, scores in (("none", (0.97, 0.96, 0.95)), ("blur", (0.85, 0.95, 0.80)))
        for name, score in zip(("mnist-best", "hog, validation's best", "raw pixels, cosine"),
                               scores, strict=True)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "12_robustness.csv", index=False)
    assert report.robustness_shortfalls(tmp_path).splitlines() == [
        "- mnist: mnist-best is at least level with raw pixels, cosine under every change",
        "- mnist: mnist-best is below hog, validation's best under blur (0.850 vs 0.950)",
    ]


def test_the_augmentation_table_pairs_each_augmented_recipe_with_its_clean_twin(tmp_path):
    rows = [
        {"dataset": "mnist", "features": features, "whiten_dims": 0, "whiten_power": 0.0,
         "expansion_k": k, "precision_at_10": score, "map_at_100": 0.5}
        for features, k, score in (("conv_fc_transpose:pool2", 0, 0.97),
                                   ("conv_fc_transpose:pool2", 5, 0.978),
                                   ("conv_fc_transpose_augmented:pool2", 5, 0.98),
                                   ("conv_deep_augmented:pool3", 0, 0.5), ("hog", 0, 0.96))
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "12_ablation.csv", index=False)
    lines = report.augmentation_table(tmp_path).splitlines()
    # each recipe's best row against its twin's best; a recipe without a twin is left out
    assert lines[2:] == [
        "| mnist | conv_fc_transpose_augmented:pool2 | 0.9800 | 0.9780 | +0.0020 |"
    ]


def test_the_root_table_pairs_each_rooted_candidate_with_its_twin_without_roots(tmp_path):
    rows = [
        {"dataset": "cifar10", "features": features, "whiten_dims": 0, "whiten_power": 0.0,
         "expansion_k": 0, "precision_at_10": score, "map_at_100": 0.2}
        for features, score in (("a:pool2+flip@8^0.5 + a:pool3@8^0.5", 0.44),
                                ("a:pool2+flip+root@8^0.5 + a:pool3+root@8^0.5", 0.46),
                                ("a:pool2+flip+root", 0.45), ("a:pool3+root", 0.43),
                                ("a:pool3", 0.435))
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "12_ablation.csv", index=False)
    # a concatenation's twin drops the roots of every part; a spec without a twin is left out
    assert report.root_table(tmp_path).splitlines()[2:] == [
        "| cifar10 | a:pool2+flip+root@8^0.5 + a:pool3+root@8^0.5 | 0.4600 | 0.4400 | +0.0200 |",
        "| cifar10 | a:pool3+root | 0.4300 | 0.4350 | -0.0050 |",
    ]


def test_the_graph_reranking_table_keeps_each_methods_best_setting(tmp_path):
    def row(base, method, k, parameter, precision, lead):
        return {"pipeline": "mnist-best", "dataset": "mnist", "base": base, "method": method,
                "k": k, "parameter": parameter, "precision_at_10": precision, "map_at_100": 0.9,
                "map_at_100_retrieved": 0.95, "lead_over_registered": lead,
                "lead_low": lead - 0.002, "lead_high": lead + 0.002, "seconds": 1.0}  # fmt: skip

    pd.DataFrame(
        [row("dba+qe10", "registered", None, None, 0.98, 0.0),
         row("cosine", "none", None, None, 0.97, -0.01),
         row("cosine", "k-reciprocal", 10, 0.3, 0.975, -0.005),
         row("cosine", "k-reciprocal", 20, 0.6, 0.976, -0.004),
         row("dba+qe10", "k-reciprocal", 10, 0.3, 0.981, 0.001)]
    ).to_csv(tmp_path / "graph_reranking.csv", index=False)  # fmt: skip
    assert report.graph_reranking_table(tmp_path).splitlines()[2:] == [
        "| mnist-best | registered | dba+qe10 | 0.9800 | 0.9500 |  |",
        "| mnist-best | none | cosine | 0.9700 | 0.9500 | -0.0100 [-0.012, -0.008] |",
        "| mnist-best | k-reciprocal (k 20, 0.6) | cosine | 0.9760 | 0.9500 "
        "| -0.0040 [-0.006, -0.002] |",
        "| mnist-best | k-reciprocal (k 10, 0.3) | dba+qe10 | 0.9810 | 0.9500 "
        "| +0.0010 [-0.001, 0.003] |",
    ]


def test_the_validation_robustness_table_lists_the_rules_steps(tmp_path):
    setting = {"whiten_dims": 0, "whiten_power": 0.0, "expansion_k": 0}
    clean = {"raw": 0.95, "a:latent": 0.98, "b:pool2": 0.97, "hog": 0.96}
    changed = {"raw": 0.9, "a:latent": 0.8, "b:pool2": 0.91}
    pd.DataFrame(
        [{"dataset": "mnist", "features": f, **setting, "precision_at_10": score,
          "map_at_100": score} for f, score in clean.items()]
    ).to_csv(tmp_path / "12_ablation.csv", index=False)  # fmt: skip
    pd.DataFrame(
        [{"dataset": "mnist", "features": f, **setting, "change": change, "precision_at_10": score}
         for f, score in changed.items() for change in PERTURBATIONS]
    ).to_csv(tmp_path / "12_validation_robustness.csv", index=False)  # fmt: skip
    lines = report.validation_robustness_table(tmp_path).splitlines()
    assert lines[0].startswith("| dataset | pipeline (validation) | none | blur |")
    assert lines[2].startswith("| mnist | raw → cosine | 0.950 | 0.900 |")
    assert lines[2].endswith("| reference |")
    assert lines[3].endswith("| no |") and lines[4].endswith("| yes |")


def test_the_front_page_is_short_and_links_to_the_full_report():
    readme = (config.project_root() / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "](results/README.md)" in readme
    for anchor in re.findall(r"\]\(results/README\.md#([a-z0-9-]+)\)", readme):
        headings = (config.project_root() / "results" / "README.md").read_text(encoding="utf-8")
        titles = re.findall(r"^#+ (.+)$", headings, re.MULTILINE)
        slugs = {re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-") for title in titles}
        assert anchor in slugs, anchor


def test_the_gallery_scale_tables_read_their_results_file_and_judge_the_goals(tmp_path):
    def size(items, exact_ms, hnsw_ms, recall):
        return {
            "items": items, "exact_build_s": 0.5, "exact_mib": 250.0, "hnsw_build_s": 300.0,
            "hnsw_mib": 520.0,
            "exact": {"query_p50_ms": exact_ms, "query_p99_ms": exact_ms * 2,
                      "precision_at_10": 0.97},
            "hnsw": [{"ef_search": ef, "choice_recall_at_10": recall, "recall_at_10": recall,
                      "query_p50_ms": hnsw_ms * ef / 32, "query_p99_ms": hnsw_ms,
                      "precision_at_10": 0.96} for ef in (32, 64)],
        }  # fmt: skip

    def opened(seconds):
        return {"open_s": seconds, "index": "hnsw", "items": 1000000, "peak_rss_mib": 2100.0,
                "query_p50_ms": 1.5, "query_p99_ms": 3.0, "integrity_checked_s": 6.0,
                "first_add_s": 0.75}  # fmt: skip

    write_json(
        tmp_path / "gallery_scale.json",
        {"machine": {"cpus": 2, "processor": "x86_64"}, "pipeline": "mnist-best",
         "size": 1000000, "chosen_ef_search": 64, "recall_goal": 0.95, "p50_goal_ms": 2.0,
         "reopen_goal_s": 2.0, "queries": 1000,
         "growth": {"build_60000_s": 40.0, "added": 940000, "add_images_per_s": 1500,
                    "peak_rss_mib": 4000},
         "disk": {"total_mib": 1800.0, "record_mib": 1300.0, "checkpoint_mib": 500.0},
         "by_size": [size(10000, 0.3, 0.2, 1.0), size(1000000, 30.0, 1.0, 0.97)],
         "reopen": {"hnsw_saved": opened(1.2) | {"recall_at_10": 0.98},
                    "exact_from_record": opened(14.0), "exact_saved": opened(0.9)}},
    )  # fmt: skip
    table = report.gallery_scale_table(tmp_path)
    assert "| 1,000,000 | 30.00 / 60.00 ms | 2.00 / 1.00 ms | 0.970 | 0.9700 / 0.9600 |" in table
    assert (
        "| HNSW, read from its checkpoint | 1.20 s | 2,100 MiB | 1.50 / 3.00 ms | 0.980 | 6.0 s "
        "| 0.75 s |" in table
    )
    assert "(record 1,300 MiB, checkpoint 500 MiB)" in table
    assert "p50 at most 2 ms, met (2.00 ms, against 30.0 ms exact)" in table
    assert "at least 0.95, met (0.970); reopening in at most 2 s, met (1.20 s)" in table
    assert "940,000 changed copies added at 1,500 images/s" in table
    costs = report.gallery_index_costs(tmp_path)
    assert "| hnsw (efSearch 64) | 2.00 ms | 0.970 | 300 s | 520 MiB | 1.2 s |" in costs
    assert "| exact | 30.0 ms | 1 | 0 s | 250 MiB | 0.9 s |" in costs
    measured = json.loads((tmp_path / "gallery_scale.json").read_text())
    measured["reopen"]["hnsw_saved"]["open_s"] = 2.5
    write_json(tmp_path / "gallery_scale.json", measured)
    assert "at most 2 s, **missed** (2.50 s)" in report.gallery_scale_table(tmp_path)


def test_the_container_table_reads_its_results_file(tmp_path):
    write_json(
        tmp_path / "container_image.json",
        {"image": {"base": "python:3.11-slim-bookworm", "bytes": 3_550_000_000,
                   "base_bytes": 130_000_000, "build_s": 181.4, "volume": "/var/lib/aesearch",
                   "largest_packages_mib": [{"package": "tensorflow", "mib": 1900},
                                            {"package": "llvmlite", "mib": 170}]},
         "gallery": "mnist-best",
         "cold_start": {"runs": [{}, {}, {}], "median_answering_s": 9.04,
                        "median_first_search_ms": 120.4, "median_restart_s": 11.5},
         "compose_with_milvus": {"milvus_healthy_s": 7.3, "service_answering_s": 10.2,
                                 "first_search_ms": 1450.0},
         "machine": {"cpus": 2, "processor": "x86_64"}},
    )  # fmt: skip
    table = report.container_image_table(tmp_path)
    assert (
        "The image: 3.55 GB, of which 0.13 GB is its base (`python:3.11-slim-bookworm`), built "
        "in 181 s without a layer cache; its largest packages: tensorflow 1,900 MiB, llvmlite "
        "170 MiB. Measured on 2 CPU cores" in table
    )
    assert "| `podman run`, `mnist-best` in the volume (median of 3) | 9.0 s | 120 ms |" in table
    assert "| compose: the service, `mnist-best` in that Milvus | 10.2 s | 1,450 ms |" in table
