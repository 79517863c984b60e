namespace RsMoe.Data.Datasets;

/// <summary>
/// RSICD with the images that are available: the Karpathy JSON lists 10,921 images, the shared folder holds the
/// 10,000 class-named ones (AID copies at 150 px); the 921 numbered ones are left out, and <see cref="Missing"/> says
/// how many per split.
/// </summary>
public static class Rsicd
{
    public sealed record Result(CaptionDataset Dataset, IReadOnlyDictionary<string, int> Missing);

    /// <param name="folder">The folder holding <c>images/</c>, e.g. <c>../shared/data/rsicd</c>.</param>
    /// <param name="captions">The Karpathy JSON, e.g. <c>../shared/data/captions/RSICD_karpathy.json</c>.</param>
    public static Result Read(string folder, string captions)
    {
        var karpathy = DatasetReader.Read(captions);
        string imageFolder = Path.Combine(folder, "images");
        if (!Directory.Exists(imageFolder)) throw new DirectoryNotFoundException($"no RSICD images at '{imageFolder}'");
        var present = new HashSet<string>(Directory.EnumerateFiles(imageFolder).Select(Path.GetFileName)!, StringComparer.Ordinal);
        var available = new List<CaptionedImage>();
        var missing = new Dictionary<string, int>();
        foreach (var image in karpathy.Images)
        {
            if (present.Contains(image.FileName)) available.Add(image with { Id = image.FileName, FileName = Path.Combine(imageFolder, image.FileName) });
            else missing[image.Split] = missing.GetValueOrDefault(image.Split) + 1;
        }
        return new Result(new CaptionDataset("rsicd", "karpathy", available), missing);
    }
}
