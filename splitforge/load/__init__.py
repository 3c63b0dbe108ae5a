from splitforge.load.readers import FORMATS, detect_format, read_source
from splitforge.load.sources import LoadResult, SourceInfo, load_source, load_sources

__all__ = ["FORMATS", "LoadResult", "SourceInfo", "detect_format", "load_source", "load_sources",
           "read_source"]
