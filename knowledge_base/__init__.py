"""The brand's help articles (`articles/*.md`) and semantic retrieval over them."""

from knowledge_base.articles import Article, load_articles
from knowledge_base.retriever import KnowledgeBase, Match

__all__ = ["Article", "KnowledgeBase", "Match", "load_articles"]
