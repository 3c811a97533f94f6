"""The service's answers as pydantic models: ``/docs`` documents each one from these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ErrorAnswer(BaseModel):
    error: str = Field(description="what was wrong, and what to do about it")


class Health(BaseModel):
    status: Literal["ok"]
    galleries: int = Field(description="galleries this caller can search")


class GalleryInfo(BaseModel):
    name: str = Field(description="what the routes use")
    title: str = Field(description="what a person calls it")
    owner: str = Field(description="the tenant it belongs to")
    visibility: Literal["public", "private"]
    items: int
    image_shape: list[int]
    class_names: list[str]
    steps: str = Field(description="how a query becomes a vector and is searched")
    view: Literal["faiss", "milvus"] = Field(description="where its vectors are searched")
    index: Literal["exact", "hnsw", "ivf"] = Field(
        description="how: every vector (exact), an HNSW graph or inverted lists (approximate)"
    )


class VisibilityChange(BaseModel):
    visibility: Literal["public", "private"]


class QueryImage(BaseModel):
    image: str = Field(description="the query as the gallery saw it: a PNG data URL")
    inverted: bool = Field(description="a dark-on-light grey image was inverted")
    transparent: bool = Field(description="transparent pixels were laid on black")


class Hit(BaseModel):
    rank: int = Field(description="1 for the nearest")
    id: int
    label: int | None
    label_name: str | None
    distance: float = Field(description="cosine distance: smaller is more similar")
    image_url: str


class SearchAnswer(BaseModel):
    gallery: str
    k: int
    query: QueryImage
    results: list[Hit]


class Added(BaseModel):
    id: int
    label: int | None
    items: int = Field(description="the gallery's size after the addition")


class Deleted(BaseModel):
    deleted: int
    items: int


class GalleryDeleted(BaseModel):
    deleted: str


class TenantAnswer(BaseModel):
    tenant: str | None = Field(description="the token's tenant; null without a token")
    galleries: list[GalleryInfo] = Field(description="the galleries this caller can search")
