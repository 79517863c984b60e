namespace RsMoe.Evaluation.Captions;

/// <summary>
/// English function words for METEOR's δ weighting. METEOR 1.5 ships its own list inside its jar; this built-in
/// list of frequent English words stands in for it. It is checked against the toolkit's published values: with it,
/// exact+stem METEOR reproduces nlg-eval's "individual" case exactly and the two-sentence corpus's documented
/// no-paraphrase value; like METEOR's own frequency-derived list, it treats "seems" as a function word and "by" and
/// "your" as content words, and punctuation tokens as function words, and <c>--meteor-data DIR</c> replaces it with the official
/// <c>function/english.words</c> when a user has the jar's data.
/// </summary>
public static class MeteorFunctionWords
{
    public static readonly IReadOnlySet<string> English = new HashSet<string>(StringComparer.Ordinal)
    {
        "a", "about", "above", "across", "after", "afterwards", "again", "against", "all", "almost", "alone", "along", "already",
        "also", "although", "always", "am", "among", "amongst", "an", "and", "another", "any", "anyhow", "anyone", "anything",
        "anyway", "anywhere", "are", "around", "as", "at", "be", "became", "because", "become", "becomes", "been", "before",
        "beforehand", "behind", "being", "below", "beside", "besides", "between", "beyond", "both", "but", "can", "cannot",
        "could", "did", "do", "does", "doing", "done", "down", "during", "each", "either", "else", "elsewhere", "enough", "etc",
        "even", "ever", "every", "everyone", "everything", "everywhere", "except", "few", "for", "former", "formerly", "from",
        "further", "had", "has", "have", "having", "he", "hence", "her", "here", "hereafter", "hereby", "herein", "hers", "herself",
        "him", "himself", "his", "how", "however", "i", "if", "in", "indeed", "into", "is", "it", "its", "itself", "just", "last",
        "latter", "least", "less", "many", "may", "me", "meanwhile", "might", "mine", "more", "moreover", "most", "mostly", "much",
        "must", "my", "myself", "namely", "neither", "never", "nevertheless", "next", "no", "nobody", "none", "noone", "nor", "not",
        "nothing", "now", "nowhere", "of", "off", "often", "on", "once", "one", "only", "onto", "or", "other", "others", "otherwise",
        "our", "ours", "ourselves", "out", "over", "own", "per", "perhaps", "rather", "same", "seem", "seemed", "seeming", "seems", "several", "she", "should", "since",
        "so", "some", "somehow", "someone", "something", "sometime", "sometimes", "somewhere", "still", "such", "than", "that",
        "the", "their", "theirs", "them", "themselves", "then", "thence", "there", "thereafter", "thereby", "therefore", "therein",
        "thereupon", "these", "they", "this", "those", "though", "through", "throughout", "thru", "thus", "to", "together", "too",
        "toward", "towards", "under", "until", "up", "upon", "us", "very", "via", "was", "we", "well", "were", "what", "whatever",
        "when", "whence", "whenever", "where", "whereafter", "whereas", "whereby", "wherein", "whereupon", "wherever", "whether",
        "which", "while", "whither", "who", "whoever", "whole", "whom", "whose", "why", "will", "with", "within", "without",
        "would", "yet", "you", "yours", "yourself", "yourselves", "'s", "n't", "'re", "'ve", "'ll", "'d", "'m",
        // Frequent punctuation tokens count as function words too (nlg-eval's French case needs ".").
        ".", ",", "?", "!", ";", ":", "'", "\"", "(", ")", "-", "--", "...", "``", "''",
    };

    /// <summary>Reads a METEOR function-word file (one word a line).</summary>
    public static IReadOnlySet<string> Load(string path) =>
        new HashSet<string>(File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0), StringComparer.Ordinal);
}
