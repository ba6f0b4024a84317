"""The one exception type the CLI turns into a single error line and a non-zero exit."""


class HarnessError(Exception):
    """Bad input or a failed precondition, explained in one line: what is wrong and what is allowed."""


def first_line(err: BaseException) -> str:
    """The first line of a library's exception text, for embedding in a one-line error."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
