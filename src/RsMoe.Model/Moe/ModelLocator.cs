namespace RsMoe.Model.Moe;

/// <summary>Finds the embedded default model (<c>models/default</c>) above the running program, wherever it was built or published.</summary>
public static class ModelLocator
{
    public static string DefaultModelDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "default");
            if (ModelFolder.IsModelFolder(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("the embedded default model (models/default) was not found; configure a model folder");
    }

    /// <summary>The folder configured, else the embedded default.</summary>
    public static string Resolve(string? configured) => string.IsNullOrWhiteSpace(configured) ? DefaultModelDirectory() : Path.GetFullPath(configured);
}
