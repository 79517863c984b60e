namespace RsMoe.Data.Datasets;

/// <summary>One question about an image, with its reference answer and RSIEval-style type.</summary>
public sealed record QaPair(string Id, string Question, string Answer, string Type);

/// <summary>A sentence of a caption with the aspect it describes (theme, objects, relationships).</summary>
public sealed record AspectSentence(string Text, string Aspect);

/// <summary>An image of a data set: where it is, its split, its reference captions and questions.</summary>
public sealed record CaptionedImage(
    string Id,
    string FileName,
    string Split,
    IReadOnlyList<string> Captions,
    string? Label = null,
    IReadOnlyList<QaPair>? Questions = null,
    IReadOnlyList<AspectSentence>? Aspects = null,
    string? Instruction = null)
{
    public IReadOnlyList<QaPair> QaPairs => Questions ?? [];
}

/// <summary>A captioning / VQA data set as one of the readers found it.</summary>
public sealed record CaptionDataset(string Name, string Format, IReadOnlyList<CaptionedImage> Images)
{
    public IEnumerable<CaptionedImage> Split(string? split) =>
        split is null or "all" ? Images : Images.Where(i => string.Equals(i.Split, split, StringComparison.OrdinalIgnoreCase));

    public IReadOnlyList<string> Splits => Images.Select(i => i.Split).Distinct().Order().ToList();
}
