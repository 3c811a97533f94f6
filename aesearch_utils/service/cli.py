"""``aesearch``: start the search service, build galleries, manage tenants and their tokens.

    aesearch serve                        # 127.0.0.1:8000; builds mnist-best when no gallery exists
    aesearch build mnist --pipeline mnist-best
    aesearch build photos --folder my_photos/ --pipeline cifar10-best --tenant acme --private
    aesearch tenant add acme              # a customer
    aesearch token add acme               # prints a token once; only its digest is kept
    aesearch token list                   # keys, tenants, when made and revoked
    aesearch token revoke KEY             # works at the service's next request
    aesearch gallery delete photos

Galleries and the tenants file live in ``$AESEARCH_GALLERIES_DIR`` (default
``data/galleries/``); ``$AESEARCH_VECTORS_URI`` (or ``--vectors-uri``) points
the searched vectors at Milvus instead of this process's memory. Every
setting is described in :mod:`aesearch_utils.config`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from aesearch_utils import config
from aesearch_utils.errors import AesearchError, InvalidInputError
from aesearch_utils.search.pipeline import SearchPipeline
from aesearch_utils.search.registry import pipeline_names
from aesearch_utils.store.gallery import Gallery, build_folder_gallery, build_registered_gallery
from aesearch_utils.store.locking import FolderInUseError
from aesearch_utils.store.tenants import ADMIN, TenantRegistry

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve(arguments: argparse.Namespace) -> int:
    from aesearch_utils.service.app import create_app
    from aesearch_utils.service.server import serve as run_server

    settings = dataclasses.replace(
        config.settings(), vectors_uri=arguments.vectors_uri, default_gallery=arguments.gallery
    )
    if settings.write_token:  # before the first start's build, not after it
        config.check_token(settings.write_token, config.WRITE_TOKEN_VARIABLE)
    folder = settings.galleries_dir
    tenants = TenantRegistry.in_folder(folder)
    has_tokens = tenants.has_active_tokens()
    tenants.close()
    if arguments.host not in LOCAL_HOSTS and not (settings.write_token or has_tokens):
        print(
            f"refusing to listen on {arguments.host} with no token: anyone could change every "
            f"gallery. Make one with `aesearch token add {ADMIN}` (or set "
            f"{config.WRITE_TOKEN_VARIABLE}), or keep 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    if not any((path / "gallery.json").is_file() for path in folder.glob("*")):
        default = folder / arguments.gallery
        if default.exists():
            raise InvalidInputError(
                f"{default} exists but is not a gallery (no gallery.json), so the first-start "
                f"build cannot use it: move it away, or choose another --gallery"
            )
        print(f"no gallery yet: building {arguments.gallery} in {default} (first start only) ...")
        try:
            build_registered_gallery(default, arguments.gallery, arguments.vectors_uri).close()
        except InvalidInputError:
            if not (default / "gallery.json").is_file():
                raise
            # another process over the same folder (a replica) finished it first: serve that
    app = create_app(settings)
    names = ", ".join(app.state.service.galleries) or "no gallery"
    print(f"aesearch is serving {names} at http://{arguments.host}:{arguments.port}/", flush=True)
    run_server(app, arguments.host, arguments.port, settings.header_timeout_s)
    return 0


def build(arguments: argparse.Namespace) -> int:
    path = config.galleries_dir() / arguments.name
    visibility = "private" if arguments.private else "public"
    if arguments.folder:
        template = config.galleries_dir() / arguments.pipeline
        if not template.exists():
            print(f"building {arguments.pipeline} first: its encoder reads the folder ...")
            build_registered_gallery(template, arguments.pipeline).close()
        pipeline = SearchPipeline.open(template / "pipeline")  # a served template stays served
        gallery = build_folder_gallery(
            path, arguments.folder, pipeline, arguments.vectors_uri,
            owner=arguments.tenant, visibility=visibility,
        )  # fmt: skip
    else:
        if arguments.tenant != ADMIN or arguments.private:
            raise InvalidInputError(
                "a dataset's gallery is public and the admin's: --tenant and --private are "
                "for galleries of your own images (--folder)"
            )
        gallery = build_registered_gallery(path, arguments.pipeline, arguments.vectors_uri)
    print(f"built {gallery.name} ({gallery.visibility}, owned by {gallery.owner}): "
          f"{len(gallery):,} images in {path}")  # fmt: skip
    gallery.close()
    return 0


def _registry() -> TenantRegistry:
    return TenantRegistry.in_folder(config.galleries_dir())


def add_tenant(arguments: argparse.Namespace) -> int:
    _registry().add_tenant(arguments.name)
    print(f"added tenant {arguments.name}; give it a token with `aesearch token add "
          f"{arguments.name}`")  # fmt: skip
    return 0


def list_tenants(arguments: argparse.Namespace) -> int:
    for name in _registry().tenants():
        print(name)
    return 0


def add_token(arguments: argparse.Namespace) -> int:
    token = _registry().add_token(arguments.tenant)
    print(token)
    print(f"a token of {arguments.tenant}: keep it now, it is not stored and cannot be shown "
          "again; send it as 'Authorization: Bearer <token>'", file=sys.stderr)  # fmt: skip
    return 0


def list_tokens(arguments: argparse.Namespace) -> int:
    for row in _registry().tokens(arguments.tenant):
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created))
        revoked = (
            f"revoked {time.strftime('%Y-%m-%d %H:%M', time.localtime(row.revoked))}"
            if row.revoked
            else "active"
        )
        print(f"{row.key}  {row.tenant:<20} made {made}  {revoked}")
    return 0


def revoke_token(arguments: argparse.Namespace) -> int:
    _registry().revoke(arguments.key)
    print(f"revoked {arguments.key}: a running service refuses it from its next request")
    return 0


def delete_gallery(arguments: argparse.Namespace) -> int:
    path = config.galleries_dir() / arguments.name
    if not (path / "gallery.json").is_file():
        raise InvalidInputError(f"no gallery {arguments.name!r} in {config.galleries_dir()}")
    try:
        gallery = Gallery.open(path, arguments.vectors_uri or None)
    except FolderInUseError as error:
        raise FolderInUseError(
            f"{error}; a service that serves it deletes it with DELETE /api/galleries/"
            f"{arguments.name}"
        ) from None
    gallery.remove()
    print(f"deleted {arguments.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aesearch", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    vectors_uri = config.settings().vectors_uri

    serving = commands.add_parser("serve", help="start the web service")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=8000)
    serving.add_argument("--gallery", default=config.settings().default_gallery,
                         choices=pipeline_names(),
                         help="the gallery built when there is none yet")  # fmt: skip
    serving.add_argument("--vectors-uri", default=vectors_uri)
    serving.set_defaults(run=serve)

    building = commands.add_parser("build", help="build a gallery")
    building.add_argument("name", help="the gallery's folder name")
    building.add_argument("--pipeline", default=config.settings().default_gallery,
                          choices=pipeline_names())  # fmt: skip
    building.add_argument("--folder", help="your own images instead of the pipeline's dataset")
    building.add_argument("--tenant", default=ADMIN, help="the tenant that owns it")
    building.add_argument("--private", action="store_true",
                          help="only its tenant's tokens reach it (default: public)")  # fmt: skip
    building.add_argument("--vectors-uri", default=vectors_uri)
    building.set_defaults(run=build)

    tenant = commands.add_parser("tenant", help="customers").add_subparsers(
        dest="action", required=True
    )
    adding = tenant.add_parser("add", help="add a tenant")
    adding.add_argument("name")
    adding.set_defaults(run=add_tenant)
    tenant.add_parser("list", help="list the tenants").set_defaults(run=list_tenants)

    token = commands.add_parser("token", help="tenants' tokens").add_subparsers(
        dest="action", required=True
    )
    adding = token.add_parser("add", help="make a token for a tenant (printed once)")
    adding.add_argument("tenant")
    adding.set_defaults(run=add_token)
    listing = token.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.add_argument("tenant", nargs="?")
    listing.set_defaults(run=list_tokens)
    revoking = token.add_parser("revoke", help="revoke a token by its key")
    revoking.add_argument("key")
    revoking.set_defaults(run=revoke_token)

    gallery = commands.add_parser("gallery", help="galleries").add_subparsers(
        dest="action", required=True
    )
    deleting = gallery.add_parser("delete", help="delete a gallery and everything in it")
    deleting.add_argument("name")
    deleting.add_argument("--vectors-uri", default=vectors_uri)
    deleting.set_defaults(run=delete_gallery)

    arguments = parser.parse_args(argv)
    try:
        return arguments.run(arguments)
    except AesearchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
