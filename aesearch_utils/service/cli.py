"""``aesearch``: start the search service, or build a gallery for it.

    aesearch serve                        # 127.0.0.1:8000; builds mnist-best when no gallery exists
    aesearch build mnist --pipeline mnist-best
    aesearch build photos --folder my_photos/ --pipeline cifar10-best

Galleries live in ``$AESEARCH_GALLERIES_DIR`` (default ``data/galleries/``);
``$AESEARCH_VECTORS_URI`` (or ``--vectors-uri``) points the searched vectors at
Milvus instead of this process's memory.
"""

from __future__ import annotations

import argparse
import os
import sys

from aesearch_utils import config
from aesearch_utils.errors import AesearchError
from aesearch_utils.search.registry import pipeline_names
from aesearch_utils.store.gallery import Gallery, build_folder_gallery, build_registered_gallery

DEFAULT_GALLERY = "mnist-best"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve(arguments: argparse.Namespace) -> int:
    import uvicorn

    from aesearch_utils.service.app import ServiceSettings, create_app

    if arguments.host not in LOCAL_HOSTS and not os.environ.get("AESEARCH_WRITE_TOKEN"):
        print(
            f"refusing to listen on {arguments.host} without a write token: set "
            "AESEARCH_WRITE_TOKEN (adding and deleting then need it), or keep 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    folder = config.galleries_dir()
    if not any((path / "gallery.json").is_file() for path in folder.glob("*")):
        default = folder / arguments.gallery
        print(f"no gallery yet: building {arguments.gallery} in {default} (first start only) ...")
        build_registered_gallery(default, arguments.gallery, arguments.vectors_uri).close()
    settings = ServiceSettings.from_environment()
    if arguments.vectors_uri:
        settings = ServiceSettings(
            folder, arguments.vectors_uri, settings.write_token, settings.max_upload_bytes
        )
    app = create_app(settings)
    print(f"aesearch is serving {', '.join(app.state.galleries)} at "
          f"http://{arguments.host}:{arguments.port}/", flush=True)  # fmt: skip
    uvicorn.run(app, host=arguments.host, port=arguments.port, log_level="warning")
    return 0


def build(arguments: argparse.Namespace) -> int:
    path = config.galleries_dir() / arguments.name
    if arguments.folder:
        template = config.galleries_dir() / arguments.pipeline
        if not template.exists():
            print(f"building {arguments.pipeline} first: its encoder reads the folder ...")
            build_registered_gallery(template, arguments.pipeline).close()
        pipeline = Gallery.open(template).pipeline
        gallery = build_folder_gallery(path, arguments.folder, pipeline, arguments.vectors_uri)
    else:
        gallery = build_registered_gallery(path, arguments.pipeline, arguments.vectors_uri)
    print(f"built {gallery.name}: {len(gallery):,} images in {path}")
    gallery.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aesearch", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="start the web service")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=8000)
    serving.add_argument("--gallery", default=DEFAULT_GALLERY, choices=pipeline_names(),
                         help="the gallery built when there is none yet")  # fmt: skip
    serving.add_argument("--vectors-uri", default=os.environ.get("AESEARCH_VECTORS_URI", ""))
    serving.set_defaults(run=serve)
    building = commands.add_parser("build", help="build a gallery")
    building.add_argument("name", help="the gallery's folder name")
    building.add_argument("--pipeline", default=DEFAULT_GALLERY, choices=pipeline_names())
    building.add_argument("--folder", help="your own images instead of the pipeline's dataset")
    building.add_argument("--vectors-uri", default=os.environ.get("AESEARCH_VECTORS_URI", ""))
    building.set_defaults(run=build)
    arguments = parser.parse_args(argv)
    try:
        return arguments.run(arguments)
    except AesearchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
