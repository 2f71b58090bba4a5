import csv
import io


class CsvExporter:
    content_type = "text/csv"

    def render(self, items):
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=["name", "stock"], lineterminator="\n")
        w.writeheader()
        w.writerows(items)
        return out.getvalue()
