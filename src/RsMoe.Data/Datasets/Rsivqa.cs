namespace RsMoe.Data.Datasets;

/// <summary>
/// RSIVQA's question files: one <c>image:question?answer</c> per line (the question ends at its first '?').
/// The files carry no question types; <see cref="TypeOf"/> derives them in RSIEval's names from the question's
/// form (presence, quantity, ab_position, scene).
/// </summary>
public static class Rsivqa
{
    public sealed record Question(string Image, string Text, string Answer, string Type);

    public static IReadOnlyList<Question> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no RSIVQA file at '{path}'", path);
        var result = new List<Question>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            int colon = line.IndexOf(':');
            int mark = colon < 0 ? -1 : line.IndexOf('?', colon + 1);
            if (colon <= 0 || mark < 0) throw new InvalidDataException($"{path}:{lineNumber}: not 'image:question?answer'");
            string image = line[..colon].Trim();
            string question = line[(colon + 1)..(mark + 1)].Trim();
            string answer = line[(mark + 1)..].Trim();
            if (question.Length <= 1 || answer.Length == 0) throw new InvalidDataException($"{path}:{lineNumber}: empty question or answer");
            result.Add(new Question(image, question, answer, TypeOf(question)));
        }
        return result;
    }

    /// <summary>The RSIEval type of an RSIVQA question, from its form.</summary>
    public static string TypeOf(string question)
    {
        string q = question.Trim().ToLowerInvariant();
        if (q.StartsWith("how many", StringComparison.Ordinal)) return "quantity";
        if (q.StartsWith("what is the theme", StringComparison.Ordinal) || q.StartsWith("what kind of scene", StringComparison.Ordinal)) return "scene";
        if (q.StartsWith("what is the location", StringComparison.Ordinal) || q.StartsWith("where", StringComparison.Ordinal)) return "ab_position";
        if (q.StartsWith("does", StringComparison.Ordinal) || q.StartsWith("is there", StringComparison.Ordinal) || q.StartsWith("are there", StringComparison.Ordinal)) return "presence";
        return "reasoning";
    }

    static string SpacedLabel(Question q, string? label) =>
        q.Type == "scene" && label is not null && label.Contains(' ') && label.Replace(" ", "") == q.Answer.Replace(" ", "") ? label : q.Answer;

    /// <summary>
    /// The questions attached to the images of <paramref name="dataset"/> by image id (a question on an image the data
    /// set lacks is left out); a question asked twice of one image (the theme question is in two files) is kept once.
    /// Question ids are <c>image#k</c>. A theme answer written without spaces ("denseresidential") takes the image's
    /// class label when the two are the same letters ("dense residential").
    /// </summary>
    public static CaptionDataset Attach(CaptionDataset dataset, IEnumerable<Question> questions)
    {
        var byImage = questions.GroupBy(q => q.Image, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var images = dataset.Images.Select(image =>
        {
            if (!byImage.TryGetValue(image.Id, out var mine)) return image;
            var distinct = mine.DistinctBy(q => q.Text.ToLowerInvariant()).ToList();
            var pairs = distinct.Select((q, k) => new QaPair($"{image.Id}#{k}", q.Text, SpacedLabel(q, image.Label), q.Type));
            return image with { Questions = image.QaPairs.Concat(pairs).ToList() };
        }).ToList();
        return dataset with { Images = images };
    }
}
