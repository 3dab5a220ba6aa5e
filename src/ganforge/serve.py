"""``ganforge serve``: trained models in the browser, and the JSON/PNG HTTP API the page uses.

One FastAPI app (uvicorn serves it): ``/`` lists the models, ``/model/NAME`` is one model's page (plain HTML and
JavaScript from this package, no CDN: it works offline), ``/api/...`` the API (OpenAPI page at ``/docs``):

- ``GET /api/health``, ``GET /api/models`` (facts, scores from eval.jsonl, what each model can do)
- ``POST /api/generate`` {model, n, seed, class, class_grid} -> PNG grid
- ``POST /api/interpolate`` {model, seed_a, seed_b, steps, mode, class} -> PNG strip
- ``POST /api/translate`` multipart (model, direction, fit, file) -> PNG
- ``GET /api/example/NAME?index=I&direction=D`` -> PNG (a translator's fixed validation inputs, from its checkpoint)
- ``GET /api/report/NAME`` -> the run's report.html

Every request is bounded (:data:`LIMITS`); a bad one gets a 4xx JSON ``{"error": ...}`` naming the value and the
limit, and the server stays up. With a token every request needs it (``Authorization: Bearer T``, or
``?token=T`` for links). Model calls run in FastAPI's thread pool, one at a time per model (a lock: torch
modules are not re-entrant, and the BatchNorm standing statistics are recomputed in place).
"""

from __future__ import annotations

import io
import re
import secrets
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

# FastAPI reads the endpoints' annotations (strings here): the names they use must be module globals
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import GanforgeError

LIMITS = {"n": 64, "steps": 32, "seed": 2**31 - 1, "upload_bytes": 10 * 2**20, "pixels": 2048 * 2048, "examples": 8}


class GenerateRequest(BaseModel):
    model: str
    n: int = Field(16, ge=1, le=LIMITS["n"])
    seed: int = Field(0, ge=0, le=LIMITS["seed"])
    class_: int | str | None = Field(None, alias="class")
    class_grid: bool = False  # conditional models: one row per class (n // classes images each, at least one)
    nrow: int | None = Field(None, ge=1, le=LIMITS["n"])


class InterpolateRequest(BaseModel):
    model: str
    seed_a: int = Field(0, ge=0, le=LIMITS["seed"])
    seed_b: int = Field(1, ge=0, le=LIMITS["seed"])
    steps: int = Field(8, ge=2, le=LIMITS["steps"])
    mode: str = Field("slerp", pattern="^(slerp|lerp)$")
    class_: int | str | None = Field(None, alias="class")


@dataclass
class Served:
    name: str
    source: str
    model: Any  # ganforge.api.Model
    run_dir: Path | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    examples: dict[str, Any] = field(default_factory=dict)  # a translator's example inputs per direction

    def facts(self) -> dict[str, Any]:
        from .runlog import read_jsonl

        m = self.model
        scores: dict[str, Any] = {}
        if self.run_dir is not None and (self.run_dir / "eval.jsonl").is_file():
            try:
                rows = read_jsonl(self.run_dir / "eval.jsonl")
            except GanforgeError:
                rows = []
            if rows:
                scores = {k: v for k, v in rows[-1].items() if isinstance(v, (int, float)) and not k.endswith("_std")}
        return {"name": self.name, "source": self.source, "recipe": m.recipe.cfg.recipe, "kind": m.kind,
                "latent_dim": m.latent_dim, "classes": list(m.classes) if m.classes else None,
                "image_size": m.image_size, "channels": m.channels, "directions": list(m.directions),
                "step": m.step, "epoch": m.epoch, "data": m.recipe.cfg.data.source, "scores": scores,
                "examples": {d: len(x) for d, x in self.examples.items()},
                "report": bool(self.run_dir is not None and (self.run_dir / "report.html").is_file())}


def _names(sources: list[str]) -> list[str]:
    """URL-safe, unique model names from the sources' folder names."""
    names: list[str] = []
    for s in sources:
        p = Path(s)
        base = p.name if p.is_dir() else f"{p.parent.name}-{p.stem}"
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") or "model"
        name, i = base, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names.append(name)
    return names


def open_models(sources: list[str], device: str = "cpu") -> dict[str, Served]:
    from .api import load
    from .sampling import is_export
    from .eval_log import run_dir_of

    models: dict[str, Served] = {}
    for name, source in zip(_names(sources), sources):
        model = load(source, device)
        if model.kind == "points":
            raise GanforgeError(f"{source} holds a 2-D toy model ({model.recipe.cfg.recipe} on points); serve shows "
                                "image models")
        run_dir = None if is_export(source) else run_dir_of(Path(source))
        models[name] = Served(name, source, model, run_dir, examples=model.examples(LIMITS["examples"]))
    return models


def _png(images: Any, nrow: int) -> bytes:
    from .data.images import make_grid, to_pil

    buf = io.BytesIO()
    to_pil(make_grid(images, nrow=nrow)).save(buf, format="PNG")
    return buf.getvalue()


def make_app(models: dict[str, Served], token: str | None = None) -> Any:
    """The FastAPI app serving ``models`` (name -> :class:`Served`)."""
    import torch

    class ApiError(Exception):
        def __init__(self, status: int, message: str) -> None:
            self.status, self.message = status, message

    app = FastAPI(title="ganforge serve", description="Use trained GANs: generate, interpolate, translate.",
                  version="1")
    page = resources.files("ganforge").joinpath("serve_page.html").read_text(encoding="utf-8")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "form"))
            parts.append(f"{where or 'request'}: {e.get('msg', 'invalid')}")
        return JSONResponse({"error": "; ".join(parts)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Any:
        if token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() \
                or request.query_params.get("token", "")
            public = request.url.path == "/" or request.url.path.startswith("/model/")  # the page asks for the token
            if not public and not secrets.compare_digest(given.encode(), token.encode()):
                return JSONResponse({"error": "this server needs its token (Authorization: Bearer TOKEN, or "
                                     "?token=TOKEN)"}, status_code=401)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > LIMITS["upload_bytes"] + 65536:
            return JSONResponse({"error": f"request body of {int(length)} bytes; the limit is "
                                 f"{LIMITS['upload_bytes']} bytes"}, status_code=413)
        return await call_next(request)

    def get(name: str, kind: tuple[str, ...] | None = None) -> Served:
        if name not in models:
            raise ApiError(404, f"model {name!r} is not served; models: {', '.join(models)}")
        s = models[name]
        if kind is not None and s.model.kind not in kind:
            raise ApiError(400, f"model {name!r} is a {s.model.kind} model; this needs a {' or '.join(kind)} model")
        return s

    def call(s: Served, fn: Any) -> Any:
        try:
            with s.lock, torch.inference_mode():
                return fn()
        except GanforgeError as e:
            raise ApiError(400, str(e).replace("--class", "class")) from None

    png = {"content": {"image/png": {}}, "description": "a PNG image"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    @app.get("/model/{name}", response_class=HTMLResponse, include_in_schema=False)
    def model_page(name: str) -> str:
        get(name)
        return page

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(models)}

    @app.get("/api/models")
    def list_models() -> dict[str, Any]:
        return {"models": [s.facts() for s in models.values()], "limits": LIMITS}

    @app.post("/api/generate", responses={200: png}, response_class=Response)
    def generate(req: GenerateRequest) -> Response:
        s = get(req.model, ("generator", "conditional"))
        m = s.model
        if req.class_grid:
            if m.kind != "conditional":
                raise ApiError(400, f"class_grid: model {req.model!r} is unconditional")
            k = len(m.classes)
            per = max(1, req.n // k)
            labels = [c for c in range(k) for _ in range(per)]
            images = call(s, lambda: m.generate(len(labels), seed=req.seed, labels=labels))
            return Response(_png(images, per), media_type="image/png")
        images = call(s, lambda: m.generate(req.n, seed=req.seed, labels=req.class_))
        return Response(_png(images, req.nrow or min(8, req.n)), media_type="image/png")

    @app.post("/api/interpolate", responses={200: png}, response_class=Response)
    def interpolate(req: InterpolateRequest) -> Response:
        s = get(req.model, ("generator", "conditional"))
        m = s.model
        if m.kind == "conditional" and req.class_ is None:
            raise ApiError(400, f"model {req.model!r} is class-conditional: give class (0..{len(m.classes) - 1} or a "
                           "class name)")
        images = call(s, lambda: m.interpolate(req.seed_a, req.seed_b, req.steps, req.mode, req.class_))
        return Response(_png(images, req.steps), media_type="image/png")

    @app.post("/api/translate", responses={200: png}, response_class=Response)
    def translate(model: str = Form(...), file: UploadFile = File(...), direction: str | None = Form(None),
                  fit: str = Form("resize")) -> Response:
        from PIL import Image, UnidentifiedImageError

        s = get(model, ("translator",))
        data = file.file.read(LIMITS["upload_bytes"] + 1)
        if len(data) > LIMITS["upload_bytes"]:
            raise ApiError(413, f"upload larger than the limit of {LIMITS['upload_bytes']} bytes")
        try:
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > LIMITS["pixels"]:
                raise ApiError(413, f"image of {w}x{h} pixels; the limit is {LIMITS['pixels']} pixels")
            img.load()
        except ApiError:
            raise
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
            raise ApiError(400, f"file {file.filename!r} is not a readable image (png, jpg, webp, bmp, tif)") from None
        out = call(s, lambda: s.model.translate(img, direction, fit=fit))
        buf = io.BytesIO()
        out.save(buf, format="PNG")
        return Response(buf.getvalue(), media_type="image/png")

    @app.get("/api/example/{name}", responses={200: png}, response_class=Response)
    def example(name: str, index: int = 0, direction: str = "AtoB") -> Response:
        s = get(name, ("translator",))
        if direction not in s.examples:
            raise ApiError(404, f"model {name!r} has no example inputs for direction {direction!r}")
        images = s.examples[direction]
        if not 0 <= index < len(images):
            raise ApiError(404, f"example index {index}; this model has 0..{len(images) - 1}")
        return Response(_png(images[index:index + 1].float(), 1), media_type="image/png")

    @app.get("/api/report/{name}", include_in_schema=True)
    def report(name: str) -> Any:
        s = get(name)
        if s.run_dir is None or not (s.run_dir / "report.html").is_file():
            raise ApiError(404, f"model {name!r} has no report.html (make one with `ganforge report RUN`)")
        return FileResponse(s.run_dir / "report.html", media_type="text/html")

    return app


def serve(sources: list[str], host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
          device: str = "cpu") -> None:
    """Load the models, then serve until interrupted."""
    try:
        import uvicorn
    except ImportError:
        raise GanforgeError("serve needs fastapi and uvicorn (pip install fastapi uvicorn python-multipart)") from None
    if not 0 < port < 65536:
        raise GanforgeError(f"--port {port}: give 1..65535")
    if token is not None and not token.strip():
        raise GanforgeError("--token is empty; give a token or leave the option out")
    models = open_models(sources, device)
    app = make_app(models, token)
    import sys

    where = f"http://{host}:{port}/"
    print(f"ganforge: serving {len(models)} model(s) at {where} ({', '.join(models)}); API docs at {where}docs; "
          "Ctrl-C stops", file=sys.stderr)
    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        print(f"ganforge: warning: --host {host} without --token: anyone who can reach this machine can use the "
              "models", file=sys.stderr)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except OSError as e:
        raise GanforgeError(f"cannot serve on {host}:{port} ({e.strerror or e})") from None
