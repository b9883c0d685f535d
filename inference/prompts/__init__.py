"""Prompt templates and keyword catalogues: data files, with a loader for the prompt."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).parent
DEFAULT_PROMPT = PROMPTS_DIR / "ghost_probing.txt"
PLACEHOLDERS = frozenset({"num_frames", "duration", "timestamps"})


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt file with $num_frames, $duration and $timestamps placeholders."""

    path: Path
    template: Template

    def render(self, timestamps: list[float], duration: float) -> str:
        """The prompt for one clip: its frame times and length written in."""
        return self.template.substitute(
            num_frames=len(timestamps),
            duration=f"{duration:.1f}",
            timestamps=", ".join(f"{t:.1f}" for t in timestamps),
        ).strip()


def load_prompt(path: str | Path | None = None) -> PromptTemplate:
    """Load a prompt template and check its placeholders.

    Args:
        path: the template file; default: prompts/ghost_probing.txt.

    Returns:
        The template.

    Raises:
        FileNotFoundError: no such file.
        ValueError: it uses a placeholder other than $num_frames, $duration, $timestamps (write $$ for a dollar).
    """
    file = Path(path) if path else DEFAULT_PROMPT
    if not file.is_file():
        raise FileNotFoundError(f"prompt template not found: {file}")
    template = Template(file.read_text(encoding="utf-8"))
    if not template.is_valid():
        raise ValueError(f"prompt template {file} has a malformed $placeholder (write $$ for a literal dollar)")
    unknown = set(template.get_identifiers()) - PLACEHOLDERS
    if unknown:
        raise ValueError(f"prompt template {file} uses unknown placeholders {sorted(unknown)}; known: {sorted(PLACEHOLDERS)}")
    return PromptTemplate(file, template)
