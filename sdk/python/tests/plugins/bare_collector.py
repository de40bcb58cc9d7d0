"""The decorator used bare: the plugin is named after its module."""
from sandkit_sdk import Point, collector


@collector
def Gather():
    return None
