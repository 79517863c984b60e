namespace RsMoe.Model; internal static class AssemblyMarker { }
