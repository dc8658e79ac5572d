"""The training data as a versioned Hugging Face dataset: `complaints dataset export`, and its push to the Hub."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from console.common import DATA_HELP, data_path, emit_json, require_extra
from complaints.config import Settings
from complaints.deployment import Deployment
from model.manifest import ReleaseManifest, manifest_path


def add_commands(command) -> None:
    dataset = command("dataset", cmd_dataset,
                      "The training data as a Hugging Face dataset: train, validation and test as training splits them "
                      "(by narrative), the text as intake redacted it, each task's label as a ClassLabel of the taxonomy "
                      "beside the CFPB's labels, provenance, and a dataset card; saved with save_to_disk, optionally "
                      "pushed to the Hub as a private dataset repo's revision tagged with its content hash. With --env, "
                      "the corrections are those the environment's retrain learns from (its own and those of the "
                      "environments promoted from it).")
    dataset.add_argument("action", choices=["export"])
    dataset.add_argument("--out", required=True, metavar="DIR",
                         help="where to save it (an earlier export there is replaced; another folder must be empty)")
    dataset.add_argument("--data", help=DATA_HELP)
    dataset.add_argument("--provenance", help="provenance CSV (complaint_id,source); default provenance.csv beside the "
                                              "data")
    dataset.add_argument("--push", metavar="hf://NAMESPACE/NAME",
                         help="push it to this dataset repo (created private), tagged with its version (its content "
                              "hash); the last line printed is hf://NAMESPACE/NAME@VERSION")
    dataset.add_argument("--public", action="store_true",
                         help="push to a public repo: refused when the dataset holds analysts' corrections or the "
                              "bank's own complaints, which are internal")
    dataset.add_argument("--revision-file", metavar="FILE",
                         help="with --push: also write hf://NAMESPACE/NAME@VERSION to FILE (a workflow's next step "
                              "trains on it)")
    dataset.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def cmd_dataset(args, settings: Settings, deployment: Deployment) -> int:
    require_extra("dataset", "train", "datasets")
    from model.dataset import build, internal_rows, save, version
    from model.dataset_card import write_dataset_card
    from model.retrain import corrections, scratch_deployment

    if args.public and not args.push:
        raise ValueError("--public says where --push puts the dataset: give --push hf://NAMESPACE/NAME")
    if args.revision_file and not args.push:
        raise ValueError("--revision-file names the revision --push makes: give --push hf://NAMESPACE/NAME")
    environment = (scratch_deployment(deployment, ReleaseManifest.load(manifest_path(args.env)), corrections)
                   if args.env else nullcontext(deployment))
    with environment as source:
        export = build(source, data_path(args.data), Path(args.provenance) if args.provenance else None)
    out = save(export, Path(args.out))
    write_dataset_card(out, export)
    pushed = None
    if args.push:
        from model.dataset_hub import push  # the `hub` extra

        pushed = push(out, args.push, public=args.public)
        if args.revision_file:
            Path(args.revision_file).write_text(pushed + "\n", encoding="utf-8")
    splits = {split: part.num_rows for split, part in export.dataset.items()}
    if args.json:
        emit_json({"out": str(out), "content_sha256": export.content_hash, "version": version(export.content_hash),
                   "splits": splits, "internal_rows": internal_rows(export.dataset), "pushed": pushed})
        return 0
    print(f"{out}: " + ", ".join(f"{split} {rows:,}" for split, rows in splits.items())
          + f" (taxonomy {export.taxonomy.version}, content sha256 {export.content_hash}); card {out / 'README.md'}")
    if pushed:
        print(pushed)
    return 0
