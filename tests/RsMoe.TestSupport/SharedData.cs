namespace RsMoe.TestSupport;

/// <summary>Finds the read-only shared data folder beside the repository (../shared/data), or RSMOE_SHARED_DATA.</summary>
public static class SharedData
{
    static readonly Lazy<string> Root = new(Locate);

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root.Value, .. parts]);

    static string Locate()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("RSMOE_SHARED_DATA");
        if (!string.IsNullOrEmpty(fromEnvironment)) return fromEnvironment;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "RsMoe.Micro.sln")))
            {
                var candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "data"));
                if (Directory.Exists(candidate)) return candidate;
            }
        }
        throw new DirectoryNotFoundException("../shared/data was not found beside the repository; set RSMOE_SHARED_DATA");
    }
}
