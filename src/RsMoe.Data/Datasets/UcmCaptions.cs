using System.Text.Json;

namespace RsMoe.Data.Datasets;

/// <summary>
/// UCM-captions with its images: the Karpathy JSON names images <c>N.tif</c>; the shared copies are
/// <c>images/N.jpg</c> (the same pixels as JPEG), and <c>classes.json</c> gives each one's land-use class.
/// Image ids stay the Karpathy names (<c>N.tif</c>), which RSIVQA's question files use too.
/// </summary>
public static class UcmCaptions
{
    /// <param name="folder">The images folder's parent (<c>images/</c>, <c>classes.json</c>), e.g. <c>../shared/data/ucm-captions</c>.</param>
    /// <param name="captions">The Karpathy JSON, e.g. <c>../shared/data/captions/UCM_captions_karpathy.json</c>.</param>
    public static CaptionDataset Read(string folder, string captions)
    {
        var karpathy = DatasetReader.Read(captions);
        var classes = ReadClasses(Path.Combine(folder, "classes.json"));
        var images = karpathy.Images.Select(image =>
        {
            string jpeg = ImageFileName(image.FileName);
            if (!classes.TryGetValue(jpeg, out string? label)) throw new InvalidDataException($"{folder}: classes.json has no entry for {jpeg} ({image.FileName})");
            return image with { Id = image.FileName, FileName = Path.Combine(folder, "images", jpeg), Label = label };
        }).ToList();
        return new CaptionDataset("ucm-captions", "karpathy", images);
    }

    /// <summary><c>N.tif</c> → <c>N.jpg</c>.</summary>
    public static string ImageFileName(string karpathyName)
    {
        string stem = Path.GetFileNameWithoutExtension(karpathyName);
        if (!int.TryParse(stem, out int n) || n < 1) throw new InvalidDataException($"'{karpathyName}' is not a UCM-captions image name (N.tif)");
        return $"{n}.jpg";
    }

    static Dictionary<string, string> ReadClasses(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no UCM classes file at '{path}'", path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetProperty("class").GetString()
            ?? throw new InvalidDataException($"{path}: {p.Name} has no class"));
    }
}
