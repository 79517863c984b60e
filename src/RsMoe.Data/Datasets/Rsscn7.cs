using System.Text.Json;

namespace RsMoe.Data.Datasets;

/// <summary>One RSSCN7 photograph of a split: its path, its class folder name (e.g. <c>aGrass</c>) and its file name under <c>images/</c>.</summary>
public sealed record Rsscn7Photo(string Path, string Label, string File)
{
    /// <summary>Photos per class at each scale.</summary>
    public const int PhotosPerScale = 100;

    /// <summary>
    /// Which of RSSCN7's four scales (1 nearest to 4 farthest) the photo was taken at: the set photographs each class at
    /// four scales, <see cref="PhotosPerScale"/> photos each, in file-name order (<c>g001</c>–<c>g100</c> the first).
    /// </summary>
    public int Scale => (Number - 1) / PhotosPerScale + 1;

    int Number => int.Parse(System.IO.Path.GetFileNameWithoutExtension(File).AsSpan().TrimStart("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"), System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>RSSCN7's <c>split.json</c> (file, class, split per photo), read in its order.</summary>
public static class Rsscn7
{
    public static IReadOnlyList<Rsscn7Photo> Split(string folder, string split)
    {
        using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(System.IO.Path.Combine(folder, "split.json")));
        return doc.RootElement.EnumerateArray().Where(e => e.GetProperty("split").GetString() == split)
            .Select(e => new Rsscn7Photo(System.IO.Path.Combine(folder, "images", e.GetProperty("file").GetString()!), e.GetProperty("class").GetString()!,
                e.GetProperty("file").GetString()!))
            .ToList();
    }
}
