"""Fixed-width text tables, as the commands print them."""


def format_table(columns, rows, sep=" ", rule=False):
  """The lines of a table.

  Args:
    columns: (header, align, width) per column: align "<" or ">"; width
      the least width (a wider cell or header widens the column). The last
      column, if left-aligned, is not padded.
    rows: sequences of cell strings, one per column.
    sep: what stands between two columns.
    rule: a line of dashes under the header.

  Returns:
    A list of lines: the header, the rule if asked, one line per row.
  """
  rows = [[str(cell) for cell in row] for row in rows]
  widths = [max([width, len(header)] + [len(row[i]) for row in rows])
            for i, (header, _, width) in enumerate(columns)]

  def line(cells):
    out = []
    for i, (cell, (_, align, _)) in enumerate(zip(cells, columns)):
      last = i == len(columns) - 1
      out.append(cell if last and align == "<" else
                 f"{cell:{align}{widths[i]}}")
    return sep.join(out)

  lines = [line([header for header, _, _ in columns])]
  if rule:
    lines.append("-" * len(lines[0]))
  return lines + [line(row) for row in rows]


def write_results(path, title, text, table):
  """Writes a generated results page, whole: `# title`, the paragraph
  `text` saying what wrote it and what it measures, and the table's
  `lines` as a text block; prints the table."""
  from gru_common import files  # pylint: disable=g-import-not-at-top
  with files.replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.write(f"# {title}\n\n{text}\n\n```text\n" + "\n".join(table) +
            "\n```\n")
  print("\n".join(table))
