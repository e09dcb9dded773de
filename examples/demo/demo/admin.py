"""The demo's admin: the blog's posts, categories, tags and comments under /admin/.

Sign in as a staff user (``carboy createuser --staff``); a superuser may do
everything, other staff what their permissions say (``blog.change_post``...).
"""

from __future__ import annotations

from typing import Annotated, Any

from carboy.admin import Admin, Inline, ModelAdmin, action, display
from carboy.forms import Upload, UploadedImage
from demo.blog.models import Category, Comment, Post, Tag

admin = Admin(title="carboy demo admin")


class CommentInline(Inline):
    """A post's comments, edited on the post's page."""

    model = Comment
    fields = ["author", "body"]
    extra = 1


@action(description="Publish the selected posts")
def publish(model_admin: ModelAdmin, request: Any, session: Any, posts: list[Post]) -> str:
    """Publish the selected posts."""
    for post in posts:
        post.published = True
    return f"Published {len(posts)} post(s)."


@admin.register(Post)
class PostAdmin(ModelAdmin):
    """Posts: searched by title and text, filtered by state, date and category."""

    list_display = ["title", "category", "published", "tag_list", "created_at"]
    search_fields = ["title", "body"]
    list_filter = ["published", "created_at", "category_id"]
    ordering = ["-created_at"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "body", "image"]}),
        ("Publishing", {"fields": ["published", "category_id", "tags"]}),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]
    autocomplete_fields = ["category_id"]  # typed, not picked from every category
    file_fields = {"image": Annotated[UploadedImage | None, Upload(max_size=2_000_000)]}
    actions = [publish]
    inlines = [CommentInline]
    per_page = 20

    @display(description="Tags")
    def tag_list(self, post: Post) -> str:
        """The post's tags, comma-separated."""
        return ", ".join(tag.name for tag in post.tags)


@admin.register(Category)
class CategoryAdmin(ModelAdmin):
    """Categories: searched by name (the posts' category field completes from them)."""

    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]


admin.register(Tag)


@admin.register(Comment)
class CommentAdmin(ModelAdmin):
    """Comments, newest first."""

    list_display = ["author", "post_id", "created_at"]
    search_fields = ["author", "body"]
    list_filter = ["created_at"]
