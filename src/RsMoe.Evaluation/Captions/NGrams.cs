namespace RsMoe.Evaluation.Captions;

/// <summary>n-gram counting shared by BLEU and CIDEr-D; an n-gram is its words joined by a space.</summary>
internal static class NGrams
{
    public static Dictionary<string, int> Count(IReadOnlyList<string> words, int maxN)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int n = 1; n <= maxN; n++)
            for (int i = 0; i + n <= words.Count; i++)
            {
                string gram = n == 1 ? words[i] : string.Join(' ', words.Skip(i).Take(n));
                counts[gram] = counts.GetValueOrDefault(gram) + 1;
            }
        return counts;
    }

    public static int Order(string gram) => gram.Count(c => c == ' ') + 1;

    public static string[] Split(string tokenised) => tokenised.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
